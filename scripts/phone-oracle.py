#!/usr/bin/env python3
"""Numbers judged by current numbering-plan metadata (the `phonenumbers` package, the Python port of
libphonenumber), for the phone validation tests: a deterministic mixed sample of valid and invalid numbers
from many countries, written as CSV lines `e164,region,type,valid`."""
import random
import sys

import phonenumbers
from phonenumbers import PhoneNumberType

REGIONS = ["FR", "SN", "MA", "DO", "CH", "SE", "DE", "GB", "ES", "IT", "BE", "NL", "PT", "US", "CA", "CI", "TN",
           "DZ", "CM", "ML", "BR", "IN", "PL", "IE", "AT", "MX", "NG", "ZA", "JP", "AU"]
TYPES = [PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP, PhoneNumberType.TOLL_FREE]


def main(count_per_example: int) -> None:
    rng = random.Random(20261126)
    out = sys.stdout
    out.write("e164,region,type,valid\n")
    for region in REGIONS:
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = str(example.national_number)
            code = example.country_code
            for _ in range(count_per_example):
                digits = list(national)
                # Mutate the last digits (most stay in the same range), sometimes the length.
                for position in range(max(1, len(digits) - rng.randint(2, 5)), len(digits)):
                    digits[position] = str(rng.randint(0, 9))
                roll = rng.random()
                if roll < 0.05:
                    digits.append(str(rng.randint(0, 9)))
                elif roll < 0.10:
                    digits.pop()
                text = f"+{code}{''.join(digits)}"
                try:
                    parsed = phonenumbers.parse(text, None)
                    valid = phonenumbers.is_valid_number(parsed)
                except phonenumbers.NumberParseException:
                    valid = False
                out.write(f"{text},{region},{kind},{int(valid)}\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
