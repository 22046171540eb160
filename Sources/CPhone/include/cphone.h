#ifndef LETHE_CPHONE_H
#define LETHE_CPHONE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Outcome of lethe_phone_check. */
enum lethe_phone_status {
    LETHE_PHONE_OK = 0,
    LETHE_PHONE_INVALID_COUNTRY_CODE = 1,
    LETHE_PHONE_NOT_A_NUMBER = 2,
    LETHE_PHONE_TOO_SHORT = 3,
    LETHE_PHONE_TOO_LONG = 4,
    LETHE_PHONE_INVALID_NUMBER = 5,
    LETHE_PHONE_BUFFER_TOO_SMALL = 6
};

/* Parses `input` (national form read in `default_region`, an ISO 3166 alpha-2 code, or international form),
   validates it against libphonenumber's metadata and writes the E.164 form, NUL-terminated, into `out`.
   Input holding letters is refused. With `accept_possible_length` non-zero (the length rule), a number whose
   country code exists and whose length is possible for it is accepted even if its range is unknown to the
   metadata (`*accepted_by_length` is then 1). For LETHE_PHONE_INVALID_NUMBER the E.164 form is still written to
   `out`, so that operator-declared ranges can be checked. With `validity_shortcut` 0, validity is
   libphonenumber's IsValidNumber itself rather than the same answer in fewer regex matches (for tests that
   compare the two). */
int lethe_phone_check(const char *input, const char *default_region, int accept_possible_length, int validity_shortcut,
                      char *out, size_t out_len, int *accepted_by_length);

/* 1 when `region` is a region libphonenumber knows. */
int lethe_phone_region_supported(const char *region);

#ifdef __cplusplus
}
#endif
#endif
