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
        #expect(DateCodec.parseISO("2024-07-01", calendar: paris) == ISO8601DateFormatter().date(from: "2024-06-30T22:00:00Z"))
        #expect(DateCodec.parseISO("2024-07-01 10:00:00.250", calendar: paris) != nil)
    }

    @Test func rejectsWhatIsNotADate() {
        for text in ["2024-02-30", "2024-13-01", "01/02/2024", "2024-07-01 25:00", "yesterday", "2024-07-01X"] {
            #expect(DateCodec.parseISO(text, calendar: paris) == nil, "\(text)")
        }
    }

    @Test func cutoffsRenderInTheColumnsOwnLayout() {
        let instant = ISO8601DateFormatter().date(from: "2024-07-01T08:00:00Z")!
        #expect(DateCodec.render(instant, storage: .iso8601, layout: .local(separator: " "), calendar: paris) == .text("2024-07-01 10:00:00"))
        #expect(DateCodec.render(instant, storage: .iso8601, layout: .local(separator: "T"), calendar: paris) == .text("2024-07-01T10:00:00"))
        #expect(DateCodec.render(instant, storage: .iso8601, layout: .utc(separator: "T"), calendar: paris) == .text("2024-07-01T08:00:00Z"))
        #expect(DateCodec.render(instant, storage: .iso8601, layout: .date, calendar: paris) == .text("2024-07-01 10:00:00"))
        #expect(DateCodec.render(instant, storage: .unix, layout: .date, calendar: paris) == .integer(1_719_820_800))
        #expect(DateCodec.render(instant, storage: .unixMilliseconds, layout: .date, calendar: paris) == .integer(1_719_820_800_000))
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
