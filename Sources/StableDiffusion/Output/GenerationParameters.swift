import Foundation

/// The `parameters` text that AUTOMATIC1111's web UI writes into its PNGs (and that most image
/// viewers and sites read), for one sdcluster image:
///
///     a photo of a cat
///     Negative prompt: blurry
///     Steps: 25, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 128x128, Model: shapes, Guidance cutoff: 0.5, Late pass: uncond, UNet evaluations: 38
///
/// The prompt comes first (it may span lines), then the negative prompt line when there is a
/// negative prompt, then one line of `Key: value` pairs. A value holding a comma, colon or
/// newline is written as a JSON string, as the web UI does. sdcluster's own keys (`Guidance
/// cutoff`, `Late pass`, `Guidance interval` "LOW HIGH", `Adaptive guidance`, `Guidance rescale`,
/// `Prompt syntax`, `UNet evaluations`, `Engine`) follow the web UI's in the same style; other
/// tools ignore keys they do not know, and `init(parsing:)` keeps such keys in `otherFields`.
///
/// One ambiguity is inherited from the format: a prompt line that starts with
/// `Negative prompt: ` reads back as the start of the negative prompt.
public struct GenerationParameters: Sendable, Equatable {
    /// A `Key: value` pair that sdcluster does not interpret, kept in order.
    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Everything that determines the image; `request.model` is written as `Model`.
    public var request: GenerationRequest
    /// UNet evaluations the image took (guided steps count two), when known.
    public var unetEvaluations: Int?
    /// The engine fingerprint of the machine(s) that computed the image
    /// (`EngineFingerprint.description`: "oneDNN 3.2.0 avx2 avx2 fp32 r2"), written as `Engine`;
    /// the same request gives the same bits on an engine of the same fingerprint.
    public var engine: String?
    /// Keys read from the text that sdcluster does not use (e.g. `Model hash`, `TI hashes`).
    public var otherFields: [Field]

    public init(request: GenerationRequest, unetEvaluations: Int? = nil, engine: String? = nil, otherFields: [Field] = []) {
        self.request = request
        self.unetEvaluations = unetEvaluations
        self.engine = engine
        self.otherFields = otherFields
    }

    /// The text for the PNG `parameters` chunk.
    public var text: String {
        var lines: [String] = []
        // The web UI strips the whole text, so an empty prompt leaves no empty first line.
        if !request.prompt.isEmpty { lines.append(request.prompt) }
        if !request.negativePrompt.isEmpty { lines.append(Self.negativePromptPrefix + request.negativePrompt) }
        lines.append(fields.map { "\($0.key): \(Self.quoted($0.value))" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    /// The pairs of the last line, in the order the web UI writes its own keys.
    private var fields: [Field] {
        var fields = [Field(key: "Steps", value: String(request.steps))]
        // Always set in written images (the sampler fills in the model's default).
        if let scheduler = request.scheduler { fields.append(Field(key: "Sampler", value: scheduler.samplerName)) }
        // Always set in written images (the sampler fills in the model's default).
        if let w = request.guidanceScale { fields.append(Field(key: "CFG scale", value: Self.number(w))) }
        fields += [
            Field(key: "Seed", value: String(request.seed)),
        ]
        // Always set in written images (the sampler fills in the model's size).
        if let width = request.width, let height = request.height { fields.append(Field(key: "Size", value: "\(width)x\(height)")) }
        if let model = request.model { fields.append(Field(key: "Model", value: model)) }
        // The web UI's key and meaning; it leaves out 1, a request that set it keeps it.
        if let clipSkip = request.clipSkip { fields.append(Field(key: "Clip skip", value: String(clipSkip))) }
        if let syntax = request.promptSyntax { fields.append(Field(key: "Prompt syntax", value: syntax.rawValue)) }
        fields.append(Field(key: "Guidance cutoff", value: Self.number(request.guidanceCutoff)))
        fields.append(Field(key: "Late pass", value: request.latePass.rawValue))
        if let interval = request.guidanceInterval {
            fields.append(Field(key: "Guidance interval", value: "\(Self.number(interval.sigmaLow)) \(Self.number(interval.sigmaHigh))"))
        }
        if let threshold = request.adaptiveGuidanceThreshold {
            fields.append(Field(key: "Adaptive guidance", value: "\(threshold)"))
        }
        if let phi = request.guidanceRescale, phi > 0 {
            fields.append(Field(key: "Guidance rescale", value: Self.number(phi)))
        }
        if let unetEvaluations { fields.append(Field(key: "UNet evaluations", value: String(unetEvaluations))) }
        if let engine { fields.append(Field(key: "Engine", value: engine)) }
        return fields + otherFields
    }

    static let negativePromptPrefix = "Negative prompt: "

    /// Floats as Python prints them (7.5, 7.0), which is what the web UI writes.
    static func number(_ value: Float) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(format: "%.1f", Double(value)) : "\(value)"
    }

    /// The web UI's `quote`: JSON string syntax only where a plain value would be ambiguous.
    static func quoted(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == ":" || $0 == "\n" }) || value.hasPrefix("\"") else {
            return value
        }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

extension SchedulerKind {
    /// The sampler's name as AUTOMATIC1111's web UI writes it (`PLMS` is diffusers' PNDM).
    public var samplerName: String {
        switch self {
        case .ddim: return "DDIM"
        case .pndm: return "PLMS"
        case .euler: return "Euler"
        case .eulerAncestral: return "Euler a"
        case .dpmpp2m: return "DPM++ 2M"
        case .dpmpp2mKarras: return "DPM++ 2M Karras"
        }
    }

    /// The scheduler for a web UI sampler name; newer versions of the web UI write Karras
    /// sigmas as a separate `Schedule type: Karras`, given here as `scheduleType`.
    public init?(samplerName: String, scheduleType: String? = nil) {
        let name = scheduleType == "Karras" && samplerName == "DPM++ 2M" ? "DPM++ 2M Karras" : samplerName
        guard let kind = Self.allCases.first(where: { $0.samplerName == name }) else { return nil }
        self = kind
    }
}
