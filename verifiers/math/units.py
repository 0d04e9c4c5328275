"""Units that may follow a number in an answer and be dropped (10 cm, 5 apples, 3 square feet).

An allowlist: any other trailing word may change or withdraw the value ("3 opposite", "5
twelfths"), so it is kept. `normalize.py` reads it.

    python -m pytest tests/verifiers/test_attacks_math.py -q -k unit
"""

from __future__ import annotations

UNITS = set("""
    mm cm dm km nm um meter meters metre metres millimeter millimeters centimeter centimeters
    kilometer kilometers inch inches ft foot feet yd yard yards mi mile miles
    mg kg gram grams milligram milligrams kilogram kilograms lb lbs pound pounds oz ounce ounces
    ton tons tonne tonnes ml liter liters litre litres milliliter milliliters gallon gallons
    quart quarts pint pints cup cups
    ms ns sec secs second seconds min mins minute minutes hr hrs hour hours day days week weeks
    month months year years decade decades century centuries
    mph kmh kph hz kw mw kj watt watts joule joules volt volts amp amps newton newtons
    gb mb kb byte bytes bit bits
    degree degrees deg radian radians rad rads unit units
    dollar dollars cent cents euro euros yen rupee rupees
    apples apple eggs egg cookies cookie people persons students marbles candies books pages
    cars boxes balls coins stamps pencils tickets points times ways
""".split())
# a modifier of the unit after it ("square feet", "cubic meters", "km per hour"), never alone
UNIT_MODIFIERS = {"square", "sq", "cubic", "cu", "per"}


def unit_words(words: list[str]) -> bool:
    """Whether these trailing words are a known unit, with its modifiers (cm, square feet,
    miles per hour); any other word may change or withdraw the value, so it is kept."""
    if not words or words[-1] not in UNITS:
        return False
    return all(w in UNITS or w in UNIT_MODIFIERS for w in words)
