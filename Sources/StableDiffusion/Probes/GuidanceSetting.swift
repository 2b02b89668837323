/// One row of the guidance sweep (`sdcluster probe cutoff`): a guidance scale with one of the
/// three ways to skip passes (a cut-off with its late pass, a guidance interval, adaptive
/// guidance), or plain CFG.
public struct GuidanceSetting: Equatable, Sendable {
    public enum Rule: Equatable, Sendable {
        /// Every step guided (cut-off 1).
        case plain
        case cutoff(Float, LatePass)
        case interval(GuidanceInterval)
        case adaptive(threshold: Float)
    }

    public let scale: Float
    public let rule: Rule

    public init(scale: Float, rule: Rule) {
        self.scale = scale
        self.rule = rule
    }

    /// `base` with this row's guidance fields (the prompt, seed, steps and scheduler stay).
    public func apply(to base: GenerationRequest) -> GenerationRequest {
        var request = base
        request.guidanceScale = scale
        request.guidanceCutoff = 1
        request.latePass = .uncond
        request.guidanceInterval = nil
        request.adaptiveGuidanceThreshold = nil
        switch rule {
        case .plain: break
        case let .cutoff(c, late):
            request.guidanceCutoff = c
            request.latePass = late
        case let .interval(interval): request.guidanceInterval = interval
        case let .adaptive(threshold): request.adaptiveGuidanceThreshold = threshold
        }
        return request
    }

    /// The rule in words, for tables and CSV: `plain`, `cutoff 0.5 cond`, `interval (0.28, 5.42]`, `adaptive 0.99`.
    public var ruleName: String {
        switch rule {
        case .plain: return "plain"
        case let .cutoff(c, late): return "cutoff \(Self.number(c)) \(late.rawValue)"
        case let .interval(i): return "interval (\(Self.number(i.sigmaLow)), \(Self.number(i.sigmaHigh))]"
        case let .adaptive(t): return "adaptive \(Self.number(t))"
        }
    }

    /// The sweep: for each scale plain CFG first (the reference of its rows), then each cut-off
    /// below 1 with each late pass, each interval and each adaptive threshold.
    public static func sweep(scales: [Float], cutoffs: [Float], latePasses: [LatePass] = LatePass.allCases,
                             intervals: [GuidanceInterval] = [], adaptiveThresholds: [Float] = []) -> [GuidanceSetting] {
        scales.flatMap { scale -> [GuidanceSetting] in
            var rows = [GuidanceSetting(scale: scale, rule: .plain)]
            for c in cutoffs where c < 1 {
                for late in latePasses { rows.append(GuidanceSetting(scale: scale, rule: .cutoff(c, late))) }
            }
            rows += intervals.map { GuidanceSetting(scale: scale, rule: .interval($0)) }
            rows += adaptiveThresholds.map { GuidanceSetting(scale: scale, rule: .adaptive(threshold: $0)) }
            return rows
        }
    }

    /// A number as the tables print it: 1, 0.5, 2.5.
    public static func number(_ x: Float) -> String {
        x == x.rounded() ? String(Int(x)) : String(x)
    }
}
