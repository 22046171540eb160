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
    const PhoneNumberUtil *util = phone_util();
    PhoneNumber number;
    switch (util->Parse(std::string(input), std::string(default_region ? default_region : "ZZ"), &number)) {
    case PhoneNumberUtil::NO_PARSING_ERROR: break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR: return LETHE_PHONE_INVALID_COUNTRY_CODE;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN: return LETHE_PHONE_TOO_SHORT;
    case PhoneNumberUtil::TOO_LONG_NSN: return LETHE_PHONE_TOO_LONG;
    default: return LETHE_PHONE_NOT_A_NUMBER;
    }
    if (!util->IsValidNumber(number)) return LETHE_PHONE_INVALID_NUMBER;
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    if (formatted.size() + 1 > out_len) return LETHE_PHONE_BUFFER_TOO_SMALL;
    std::memcpy(out, formatted.c_str(), formatted.size() + 1);
    return LETHE_PHONE_OK;
}

extern "C" int lethe_phone_region_supported(const char *region) {
    static const std::set<std::string> regions = [] {
        std::set<std::string> all;
        phone_util()->GetSupportedRegions(&all);
        return all;
    }();
    return regions.count(std::string(region)) ? 1 : 0;
}
