import Foundation

/// Agreement of many judged images with their captions: per attribute, and all stated at once.
public struct JudgeReport: Codable, Equatable, Sendable {
    /// Images that stated the attribute, and how many of those agreed.
    public struct Tally: Codable, Equatable, Sendable {
        public var stated = 0
        public var agreed = 0
        /// `agreed / stated`, or nil when no image stated the attribute.
        public var share: Double? { stated == 0 ? nil : Double(agreed) / Double(stated) }

        public init(stated: Int = 0, agreed: Int = 0) { self.stated = stated; self.agreed = agreed }

        enum CodingKeys: String, CodingKey { case stated, agreed, share }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            stated = try c.decode(Int.self, forKey: .stated)
            agreed = try c.decode(Int.self, forKey: .agreed)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stated, forKey: .stated)
            try c.encode(agreed, forKey: .agreed)
            try c.encodeIfPresent(share, forKey: .share)
        }
    }

    public var images = 0
    /// Images where every stated attribute agreed.
    public var allAgreed = 0
    public var attributes: [String: Tally] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case images, allAgreed = "all_agreed", attributes
    }

    /// Share of images where every stated attribute agreed.
    public var allAgreedShare: Double { images == 0 ? 0 : Double(allAgreed) / Double(images) }

    /// Counts one image's agreement map.
    public mutating func add(_ agreement: [Judge.Attribute: Bool]) {
        images += 1
        if agreement.values.allSatisfy({ $0 }) { allAgreed += 1 }
        for (attribute, ok) in agreement {
            attributes[attribute.rawValue, default: Tally()].stated += 1
            if ok { attributes[attribute.rawValue, default: Tally()].agreed += 1 }
        }
    }

    /// A human-readable table, one attribute a line.
    public var text: String {
        var lines = ["attribute    agreed / stated   share"]
        for a in Judge.Attribute.allCases {
            let t = attributes[a.rawValue] ?? Tally()
            let share = t.share.map { String(format: "%6.2f%%", $0 * 100) } ?? "     -"
            lines.append(a.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                         + " " + String(format: "%6d / %-6d", t.agreed, t.stated) + "   " + share)
        }
        lines.append(String(format: "all stated   %6d / %-6d   %6.2f%%", allAgreed, images, allAgreedShare * 100))
        return lines.joined(separator: "\n")
    }
}
