//! RFC 3339 date-times and Unix milliseconds, both ways: a schedule's `start` is written as the
//! first and compared with the host's clock as the second. Written out here (the civil-date
//! arithmetic is a few lines) rather than pulling a date crate into the module.

/// Milliseconds since 1970-01-01T00:00:00Z of an RFC 3339 date-time: `2026-12-07T09:00:00Z`,
/// with an optional fraction of a second (kept to the millisecond) and `Z` or a `±HH:MM`
/// offset. A time before 1970 and a leap second (`:60`) are refused.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let refuse = |why: &str| {
        format!("\"{text}\" is not an RFC 3339 date-time such as \"2026-12-07T09:00:00Z\" ({why})")
    };
    let bytes = text.as_bytes();
    let (date, rest) = bytes
        .split_at_checked(10)
        .ok_or_else(|| refuse("too short"))?;
    let year = digits(date, 0, 4).ok_or_else(|| refuse("year"))?;
    let month = digits(date, 5, 2).ok_or_else(|| refuse("month"))?;
    let day = digits(date, 8, 2).ok_or_else(|| refuse("day"))?;
    if date.get(4) != Some(&b'-') || date.get(7) != Some(&b'-') {
        return Err(refuse("the date is YYYY-MM-DD"));
    }
    let Some((&separator, rest)) = rest.split_first() else {
        return Err(refuse("no time"));
    };
    if !matches!(separator, b'T' | b't' | b' ') {
        return Err(refuse("a T between date and time"));
    }
    let (clock, mut rest) = rest
        .split_at_checked(8)
        .ok_or_else(|| refuse("the time is HH:MM:SS"))?;
    let hour = digits(clock, 0, 2).ok_or_else(|| refuse("hour"))?;
    let minute = digits(clock, 3, 2).ok_or_else(|| refuse("minute"))?;
    let second = digits(clock, 6, 2).ok_or_else(|| refuse("second"))?;
    if clock.get(2) != Some(&b':') || clock.get(5) != Some(&b':') {
        return Err(refuse("the time is HH:MM:SS"));
    }
    let mut millis = 0u64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return Err(refuse("no digits after the decimal point"));
        }
        let (figures, after) = fraction.split_at(count);
        for (place, &figure) in figures.iter().take(3).enumerate() {
            millis += u64::from(figure - b'0') * [100, 10, 1].get(place).copied().unwrap_or(0);
        }
        rest = after;
    }
    let offset_minutes: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), offset @ ..]
            if offset.len() == 5 && offset.get(2) == Some(&b':') =>
        {
            let hours = digits(offset, 0, 2).ok_or_else(|| refuse("offset"))?;
            let minutes = digits(offset, 3, 2).ok_or_else(|| refuse("offset"))?;
            if hours > 23 || minutes > 59 {
                return Err(refuse("offset"));
            }
            let total = i64::from(hours * 60 + minutes);
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return Err(refuse("it ends in Z or an offset such as +01:00")),
    };
    if !(1..=12).contains(&month) {
        return Err(refuse("month"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(refuse("day"));
    }
    if hour > 23 {
        return Err(refuse("hour"));
    }
    if minute > 59 {
        return Err(refuse("minute"));
    }
    if second > 59 {
        return Err(refuse("second"));
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds =
        days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_minutes * 60;
    let seconds = u64::try_from(seconds).map_err(|_| refuse("before 1970"))?;
    Ok(seconds * 1000 + millis)
}

/// `2026-12-07T09:00:00Z` (with `.250` when there are milliseconds), UTC.
pub fn format_rfc3339(unix_ms: u64) -> String {
    let seconds = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX);
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let clock = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    if millis == 0 {
        format!("{clock}Z")
    } else {
        format!("{clock}.{millis:03}Z")
    }
}

/// The number in `width` ASCII digits at `at`.
fn digits(bytes: &[u8], at: usize, width: usize) -> Option<u32> {
    let field = bytes.get(at..at + width)?;
    field.iter().try_fold(0u32, |value, &b| {
        b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, counted in 400-year eras
/// that start on March 1st (so the leap day is the last day of a year).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`] for days on or after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        // `date -u -d 2026-12-07T09:00:00Z +%s` = 1796634000.
        assert_eq!(parse_rfc3339("2026-12-07T09:00:00Z"), Ok(1_796_634_000_000));
        assert_eq!(
            parse_rfc3339("2026-12-07T10:00:00+01:00"),
            Ok(1_796_634_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07t08:30:00.25-00:30"),
            Ok(1_796_634_000_250)
        );
        // 2000 is a leap year (divisible by 400): `date -u -d 2000-02-29T12:00:00Z +%s`.
        assert_eq!(parse_rfc3339("2000-02-29T12:00:00Z"), Ok(951_825_600_000));
        assert_eq!(format_rfc3339(1_796_634_000_000), "2026-12-07T09:00:00Z");
        assert_eq!(
            format_rfc3339(1_796_634_000_250),
            "2026-12-07T09:00:00.250Z"
        );
        assert_eq!(format_rfc3339(951_825_600_000), "2000-02-29T12:00:00Z");
    }

    #[test]
    fn every_day_of_five_centuries_goes_both_ways() {
        let mut expected = 0;
        for year in 1970..2470u32 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let days = days_from_civil(i64::from(year), month, day);
                    assert_eq!(days, expected, "{year}-{month}-{day}");
                    assert_eq!(
                        civil_from_days(days),
                        (i64::from(year), i64::from(month), i64::from(day))
                    );
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn malformed_times_say_what_is_wrong() {
        let why = |text: &str| parse_rfc3339(text).err().unwrap_or_default();
        let form = "is not an RFC 3339 date-time such as \"2026-12-07T09:00:00Z\"";
        assert_eq!(
            why("2026-12-07"),
            format!("\"2026-12-07\" {form} (no time)")
        );
        assert_eq!(
            why("2026-12-07T09:00:00"),
            format!("\"2026-12-07T09:00:00\" {form} (it ends in Z or an offset such as +01:00)")
        );
        assert_eq!(
            why("2025-02-29T00:00:00Z"),
            format!("\"2025-02-29T00:00:00Z\" {form} (day)")
        );
        assert_eq!(
            why("2026-12-07T23:59:60Z"),
            format!("\"2026-12-07T23:59:60Z\" {form} (second)")
        );
        assert_eq!(
            why("1969-12-31T23:59:59Z"),
            format!("\"1969-12-31T23:59:59Z\" {form} (before 1970)")
        );
        assert_eq!(
            why("2026-1-07T09:00:00Z"),
            format!("\"2026-1-07T09:00:00Z\" {form} (month)")
        );
        assert_eq!(
            why("2026-12-07T09:00:00.Z"),
            format!("\"2026-12-07T09:00:00.Z\" {form} (no digits after the decimal point)")
        );
    }
}
