#include "cphone.h"
#include <phonenumbers/phonenumberutil.h>
#include <phonenumbers/logger.h>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// libphonenumber may log the input it could not parse; a number must never reach a log, so silence it once.
static const PhoneNumberUtil *phone_util() {
    static std::once_flag once;
    std::call_once(once, [] { PhoneNumberUtil::GetInstance()->SetLogger(new i18n::phonenumbers::NullLogger()); });
    return PhoneNumberUtil::GetInstance();
}

extern "C" int lethe_phone_to_e164(const char *input, const char *default_region, char *out, size_t out_len) {
    int by_length = 0;
    return lethe_phone_check(input, default_region, 0, out, out_len, &by_length);
}

extern "C" int lethe_phone_check(const char *input, const char *default_region, int accept_possible_length, char *out, size_t out_len,
                                 int *accepted_by_length) {
    const PhoneNumberUtil *util = phone_util();
    *accepted_by_length = 0;
    // libphonenumber reads letters as keypad digits (1-800-FLOWERS); an SMS recipient is written in digits.
    for (const char *c = input; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')) return LETHE_PHONE_NOT_A_NUMBER;
    }
    PhoneNumber number;
    switch (util->Parse(std::string(input), std::string(default_region ? default_region : "ZZ"), &number)) {
    case PhoneNumberUtil::NO_PARSING_ERROR: break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR: return LETHE_PHONE_INVALID_COUNTRY_CODE;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN: return LETHE_PHONE_TOO_SHORT;
    case PhoneNumberUtil::TOO_LONG_NSN: return LETHE_PHONE_TOO_LONG;
    default: return LETHE_PHONE_NOT_A_NUMBER;
    }
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    if (formatted.size() + 1 > out_len) return LETHE_PHONE_BUFFER_TOO_SMALL;
    std::memcpy(out, formatted.c_str(), formatted.size() + 1);
    if (util->IsValidNumber(number)) return LETHE_PHONE_OK;
    // Length mode: a country code that exists and a length possible for it, whatever the ranges say.
    std::string region;
    util->GetRegionCodeForCountryCode(number.country_code(), &region);
    // A national significant number never begins with the region's trunk prefix ("0" in France): such input is a
    // mistyped national number, not a new range.
    std::string trunk, significant;
    util->GetNddPrefixForRegion(region, true, &trunk);
    util->GetNationalSignificantNumber(number, &significant);
    bool starts_with_trunk = !trunk.empty() && significant.compare(0, trunk.size(), trunk) == 0;
    if (accept_possible_length && region != "ZZ" && !starts_with_trunk &&
        util->IsPossibleNumberWithReason(number) == PhoneNumberUtil::IS_POSSIBLE) {
        *accepted_by_length = 1;
        return LETHE_PHONE_OK;
    }
    return LETHE_PHONE_INVALID_NUMBER;
}

extern "C" int lethe_phone_region_supported(const char *region) {
    static const std::set<std::string> regions = [] {
        std::set<std::string> all;
        phone_util()->GetSupportedRegions(&all);
        return all;
    }();
    return regions.count(std::string(region)) ? 1 : 0;
}
