from datetime import date

import pytest

from payrecon.business_calendar import BusinessCalendar, orthodox_easter, ukrainian_holidays


@pytest.mark.parametrize("year, easter", [(2024, date(2024, 5, 5)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 12)), (2027, date(2027, 5, 2))])
def test_orthodox_easter(year, easter):
    assert orthodox_easter(year) == easter


def test_statutory_days_and_weekend_carry_over():
    days = ukrainian_holidays(2026)
    assert date(2026, 8, 24) in days and date(2026, 12, 25) in days and date(2026, 6, 1) in days  # Trinity Monday
    # 28 June 2026 is a Sunday: Monday 29 June is off.
    assert date(2026, 6, 29) in days
    # 8 March 2026 is a Sunday: Monday 9 March is off.
    assert date(2026, 3, 9) in days


def test_counting_business_days():
    calendar = BusinessCalendar()
    friday = date(2026, 8, 21)
    # Monday 24 August is Independence Day: three business days after Friday is Thursday 27 August.
    assert calendar.add_business_days(friday, 3) == date(2026, 8, 27)
    assert calendar.business_days_between(friday, date(2026, 8, 27)) == 3
    assert BusinessCalendar(ukrainian=False).add_business_days(friday, 3) == date(2026, 8, 26)
    assert calendar.business_days_between(friday, friday) == 0


def test_setting(tmp_path):
    extra = tmp_path / "days.txt"
    extra.write_text("# bank day off\n2026-11-27\n", encoding="utf-8")
    assert not BusinessCalendar.from_setting(str(extra)).is_business_day(date(2026, 11, 27))
    assert BusinessCalendar.from_setting("none").is_business_day(date(2026, 8, 24))
    with pytest.raises(ValueError, match="expected 'ua', 'none' or a file"):
        BusinessCalendar.from_setting(str(tmp_path / "missing.txt"))
