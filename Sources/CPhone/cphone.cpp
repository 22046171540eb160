#include "cphone.h"
#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumberutil.h>
#include <phonenumbers/logger.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <algorithm>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberDesc;
using i18n::phonenumbers::PhoneNumberUtil;

namespace i18n {
namespace phonenumbers {
// Exported by libphonenumber (declared in its metadata.h, which Debian does not install): the serialized
// metadata its PhoneNumberUtil loads at start.
int metadata_size();
const void *metadata_get();
}  // namespace phonenumbers
}  // namespace i18n

// libphonenumber may log the input it could not parse; a number must never reach a log, so silence it once.
static const PhoneNumberUtil *phone_util() {
    static std::once_flag once;
    std::call_once(once, [] { PhoneNumberUtil::GetInstance()->SetLogger(new i18n::phonenumbers::NullLogger()); });
    return PhoneNumberUtil::GetInstance();
}

// IsValidNumber, answered in fewer regex matches, exactly.
//
// For a country code served by one region, libphonenumber's IsValidNumber is GetNumberTypeHelper(national
// significant number, that region's metadata) != UNKNOWN: the number matches the general description and at
// least one type's (premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail, fixed line,
// mobile). It tries the types in that order, one ICU matcher allocated per try, so a mobile number, what SMS
// recipients mostly are, costs eleven matches. Whether at least one type matches does not depend on the order:
// here mobile and fixed line go first, each description is tested the way libphonenumber's IsNumberMatchingDesc
// tests it (its possible lengths, then a full match of its pattern, compiled by ICU with the same flags), on the
// same metadata bytes, and each thread keeps its compiled matchers. Shared country codes (+1, +7, +44…) and
// non-geographic entities pick their region by number first: they take libphonenumber's own path.

namespace {

const std::map<std::string, PhoneMetadata> &region_metadata() {
    static const std::map<std::string, PhoneMetadata> *all = [] {
        auto *regions = new std::map<std::string, PhoneMetadata>();
        PhoneMetadataCollection collection;
        if (collection.ParseFromArray(i18n::phonenumbers::metadata_get(), i18n::phonenumbers::metadata_size())) {
            for (const PhoneMetadata &metadata : collection.metadata()) (*regions)[metadata.id()] = metadata;
        }
        return regions;
    }();
    return *all;
}

struct DescriptionMatcher {
    std::vector<int> lengths;
    std::unique_ptr<icu::RegexMatcher> matcher;  // null: an empty or unusable pattern, which matches nothing

    explicit DescriptionMatcher(const PhoneNumberDesc &description)
        : lengths(description.possible_length().begin(), description.possible_length().end()) {
        if (description.national_number_pattern().empty()) return;
        UErrorCode status = U_ZERO_ERROR;
        matcher.reset(new icu::RegexMatcher(icu::UnicodeString::fromUTF8(description.national_number_pattern()), 0, status));
        if (U_FAILURE(status)) matcher.reset();
    }

    bool matches(size_t length, const icu::UnicodeString &number) {
        if (!lengths.empty() && std::find(lengths.begin(), lengths.end(), static_cast<int>(length)) == lengths.end()) return false;
        if (!matcher) return false;
        UErrorCode status = U_ZERO_ERROR;
        matcher->reset(number);
        bool matched = matcher->matches(status);
        return U_SUCCESS(status) && matched;
    }
};

struct RegionValidator {
    DescriptionMatcher general;
    std::vector<DescriptionMatcher> types;

    explicit RegionValidator(const PhoneMetadata &metadata) : general(metadata.general_desc()) {
        for (const PhoneNumberDesc *type : {&metadata.mobile(), &metadata.fixed_line(), &metadata.premium_rate(), &metadata.toll_free(),
                                            &metadata.shared_cost(), &metadata.voip(), &metadata.personal_number(), &metadata.pager(),
                                            &metadata.uan(), &metadata.voicemail()}) {
            types.emplace_back(*type);
        }
    }

    bool is_valid(const std::string &significant) {
        icu::UnicodeString number = icu::UnicodeString::fromUTF8(significant);
        if (!general.matches(significant.size(), number)) return false;
        for (DescriptionMatcher &type : types) {
            if (type.matches(significant.size(), number)) return true;
        }
        return false;
    }
};

// This thread's validators by country code; null where libphonenumber's own path is taken.
RegionValidator *validator_for(const PhoneNumberUtil *util, int country_code) {
    thread_local std::unordered_map<int, std::unique_ptr<RegionValidator>> validators;
    auto known = validators.find(country_code);
    if (known != validators.end()) return known->second.get();
    std::list<std::string> regions;
    util->GetRegionCodesForCountryCallingCode(country_code, &regions);
    std::unique_ptr<RegionValidator> validator;
    if (regions.size() == 1 && regions.front() != "001") {
        auto metadata = region_metadata().find(regions.front());
        if (metadata != region_metadata().end() && metadata->second.country_code() == country_code) {
            validator.reset(new RegionValidator(metadata->second));
        }
    }
    return validators.emplace(country_code, std::move(validator)).first->second.get();
}

bool is_valid_number(const PhoneNumberUtil *util, const PhoneNumber &number, bool shortcut) {
    RegionValidator *validator = shortcut ? validator_for(util, number.country_code()) : nullptr;
    if (!validator) return util->IsValidNumber(number);
    std::string significant;
    util->GetNationalSignificantNumber(number, &significant);
    return validator->is_valid(significant);
}

}  // namespace

extern "C" int lethe_phone_check(const char *input, const char *default_region, int accept_possible_length, int validity_shortcut,
                                 char *out, size_t out_len, int *accepted_by_length) {
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
    if (is_valid_number(util, number, validity_shortcut != 0)) return LETHE_PHONE_OK;
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
