import Foundation

/// Reasons a due record must still be kept; a legal hold always applies and needs no declaration.
public struct Exemptions: Sendable {
    public var consent: [Consent]
    public var related: [RelatedKeep]

    public init(consent: [Consent] = [], related: [RelatedKeep] = []) {
        self.consent = consent
        self.related = related
    }

    public func merged(with other: Exemptions) -> Exemptions {
        Exemptions(consent: consent + other.consent, related: related + other.related)
    }
}
