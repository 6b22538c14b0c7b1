import Foundation
import Testing

@testable import RetentionCore

@Suite struct DateCodecTests {
    let paris: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Europe/Paris")!
        return c
    }()

    @Test func isoTextWithoutAZoneIsLocalTimeInThePolicyZone() {
        let date = DateCodec.parseISO("2024-07-01 10:00:00", calendar: paris)
        #expect(date == ISO8601DateFormatter().date(from: "2024-07-01T08:00:00Z"))
        #expect(DateCodec.parseISO("2024-07-01T08:00:00Z", calendar: paris) == date)
        #expect(DateCodec.parseISO("2024-07-01T10:00:00+02:00", calendar: paris) == date)
        #expect(
            DateCodec.parseISO("2024-07-01", calendar: paris)
                == ISO8601DateFormatter().date(from: "2024-06-30T22:00:00Z"))
        #expect(DateCodec.parseISO("2024-07-01 10:00:00.250", calendar: paris) != nil)
    }

    @Test func rejectsWhatIsNotADate() {
        for text in ["2024-02-30", "2024-13-01", "01/02/2024", "2024-07-01 25:00", "yesterday", "2024-07-01X"] {
            #expect(DateCodec.parseISO(text, calendar: paris) == nil, "\(text)")
        }
    }

    @Test func cutoffsRenderInTheColumnsOwnLayout() {
        let instant = ISO8601DateFormatter().date(from: "2024-07-01T08:00:00Z")!
        #expect(
            DateCodec.render(instant, storage: .iso8601, layout: .local(separator: " "), calendar: paris)
                == .text("2024-07-01 10:00:00"))
        #expect(
            DateCodec.render(instant, storage: .iso8601, layout: .local(separator: "T"), calendar: paris)
                == .text("2024-07-01T10:00:00"))
        #expect(
            DateCodec.render(instant, storage: .iso8601, layout: .utc(separator: "T"), calendar: paris)
                == .text("2024-07-01T08:00:00Z"))
        #expect(
            DateCodec.render(instant, storage: .iso8601, layout: .date, calendar: paris) == .text("2024-07-01 10:00:00")
        )
        #expect(DateCodec.render(instant, storage: .unix, layout: .date, calendar: paris) == .integer(1_719_820_800))
        #expect(
            DateCodec.render(instant, storage: .unixMilliseconds, layout: .date, calendar: paris)
                == .integer(1_719_820_800_000))
    }

    /// Dates are rendered by arithmetic, not `Calendar`: the same fields as `Calendar` gives, in
    /// zones with daylight saving, half-hour and odd historical offsets, around the changes of
    /// hour, at leap days and the ends of the range, before 1970 and with fractions of a second.
    @Test func datesRenderAsTheCalendarWouldRenderThem() {
        func calendar(_ zone: String) -> Calendar {
            var c = Calendar(identifier: .gregorian)
            c.timeZone = TimeZone(identifier: zone)!
            return c
        }
        let zones = [
            "UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe",
            "America/St_Johns",
        ]
        let iso = ISO8601DateFormatter()
        var instants = [
            "0001-01-01T00:00:00Z", "0999-03-01T00:00:00Z", "1582-10-15T00:00:00Z", "1583-01-01T00:00:00Z",
            "1600-02-29T12:00:00Z", "1899-12-31T23:59:59Z", "1911-03-10T23:50:00Z", "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z", "2000-02-29T23:30:00Z", "2024-03-31T00:59:59Z", "2024-03-31T01:00:00Z",
            "2024-10-27T00:59:59Z", "2024-10-27T01:00:00Z", "2024-12-31T23:59:59Z", "9999-12-31T12:00:00Z",
        ]
        .map { iso.date(from: $0)! }
        instants += [-0.5, 0.999, 1_719_820_800.75, -2_208_988_800.25].map { Date(timeIntervalSince1970: $0) }
        // And a spread over 1800…2200, every 3,700,001 seconds (about 43 days, never on the same hour).
        instants += stride(from: -5_364_662_400.0, to: 7_258_118_400.0, by: 3_700_001).map {
            Date(timeIntervalSince1970: $0)
        }
        for zone in zones {
            let cal = calendar(zone)
            for date in instants {
                let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
                let expected = DateCodec.CivilTime(
                    year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!, second: c.second!)
                #expect(DateCodec.CivilTime(date, calendar: cal) == expected, "\(zone) \(date.timeIntervalSince1970)")
            }
        }
        let paris = calendar("Europe/Paris")
        #expect(
            DateCodec.render(
                iso.date(from: "1583-01-01T00:00:00Z")!, storage: .iso8601, layout: .utc(separator: "T"),
                calendar: paris)
                == .text("1583-01-01T00:00:00Z"))
        #expect(
            DateCodec.render(iso.date(from: "2024-06-30T22:00:00Z")!, storage: .iso8601, layout: .date, calendar: paris)
                == .text("2024-07-01"))
        #expect(
            DateCodec.digits(7, 2) == "07" && DateCodec.digits(12345, 4) == "12345" && DateCodec.digits(-5, 4) == "-005"
        )
    }

    @Test func julianDaysRoundTrip() {
        let instant = ISO8601DateFormatter().date(from: "2000-01-01T12:00:00Z")!
        let value = DateCodec.render(instant, storage: .julian, layout: .date, calendar: paris)
        #expect(value == .real(2_451_545.0))
        #expect(DateCodec.parse(value, storage: .julian, calendar: paris) == instant)
    }

    @Test func aDateOnlyValueSortsBeforeALaterCutoffOfTheSameDay() {
        // Text comparison is what SQL does: a record of that day at midnight is before 10:00.
        #expect("2024-07-01" < "2024-07-01 10:00:00")
        #expect(!("2024-07-02" < "2024-07-01 10:00:00"))
    }
}
