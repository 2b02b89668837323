import Foundation

/// A list of images to make, read from a file, checked completely before anything runs.
///
/// Two formats:
/// - plain text: one prompt a line (surrounding white space trimmed); blank lines and lines
///   starting with `#` are skipped;
/// - JSONL: one JSON object a line, with any of the fields `prompt`, `negative_prompt`, `seed`,
///   `count`, `steps`, `guidance_scale`, `guidance_cutoff`, `late_pass`, `scheduler`, `width`,
///   `height`, `model`; blank and `#` lines are skipped here too.
///
/// A file is JSONL when its first line that is not skipped starts with `{` and ends with `}`
/// (or when `format` says so, e.g. for a `.jsonl` path). Fields left out take the `defaults`
/// (the command-line options). `count` makes that many requests with seeds seed, seed + 1, ...
/// An empty prompt is allowed: it is a valid Stable Diffusion prompt (unconditional images).
public enum PromptFile {
    /// How to read the lines.
    public enum Format: Sendable {
        case plainText, jsonLines
    }

    /// The JSONL field names, in the order they are documented.
    public static let fieldNames = ["prompt", "negative_prompt", "seed", "count", "steps", "guidance_scale",
                                    "guidance_cutoff", "late_pass", "scheduler", "width", "height", "model",
                                    "guidance_interval", "adaptive_guidance_threshold", "guidance_rescale",
                                    "prompt_syntax", "clip_skip", "loras"]

    /// Reads the file at `path`; a `.jsonl` name means JSONL, a `.txt` name plain text.
    /// - Throws: `PromptFileError` listing every problem, or it when the file cannot be read.
    public static func read(path: String, defaults: GenerationRequest, count: Int = 1) throws -> [GenerationRequest] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PromptFileError(source: path, problems: [.init(line: nil, message: "no such file")])
        }
        // Read through a handle: a pipe (`--prompts <(make-prompts)`, /dev/stdin) has no size to
        // read up to, which `FileManager.contents` relies on.
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data(),
              let text = String(data: data, encoding: .utf8) else {
            throw PromptFileError(source: path, problems: [.init(line: nil, message: "cannot read the file as UTF-8 text")])
        }
        let name = path.lowercased()
        let format: Format? = name.hasSuffix(".jsonl") ? .jsonLines : name.hasSuffix(".txt") ? .plainText : nil
        return try parse(text: text, defaults: defaults, count: count, format: format, source: path)
    }

    /// Parses prompt-file text into requests, defaults filling what lines leave out.
    /// - Parameters:
    ///   - count: images per plain-text prompt (and per JSONL line without `count`).
    ///   - format: nil to tell plain text from JSONL by the first line.
    /// - Throws: `PromptFileError` with every problem found, each with its line number.
    public static func parse(text: String, defaults: GenerationRequest, count: Int = 1,
                             format: Format? = nil, source: String = "prompt text") throws -> [GenerationRequest] {
        var problems = problems(in: defaults, count: count).map { PromptFileError.Problem(line: nil, message: "defaults: " + $0) }
        guard problems.isEmpty else { throw PromptFileError(source: source, problems: problems) }
        let lines = contentLines(text)
        let isJSON = format.map { $0 == .jsonLines } ?? lines.first.map { $0.text.hasPrefix("{") && $0.text.hasSuffix("}") } ?? false
        var requests: [GenerationRequest] = []
        for line in lines {
            if isJSON {
                do {
                    requests += try JSONLine(line.text).requests(defaults: defaults, count: count)
                } catch let lineProblems as LineProblems {
                    problems += lineProblems.messages.map { .init(line: line.number, message: $0) }
                } catch {
                    problems.append(.init(line: line.number, message: "\(error)"))
                }
            } else if line.text.hasPrefix("{"), line.text.hasSuffix("}"),
                      (try? JSONSerialization.jsonObject(with: Data(line.text.utf8))) is [String: Any] {
                // Taken literally this would be a prompt of JSON text: surely not what was meant.
                problems.append(.init(line: line.number, message: "this line is a JSON request, but the file is read as plain text (its first prompt line is not JSON\(format == .plainText ? ", or it is named .txt" : "")): make every line a JSON object (JSONL, e.g. {\"prompt\": \"...\"}) or every line a plain prompt"))
            } else {
                var request = defaults
                request.prompt = line.text
                requests += expand(request, count: count)
            }
        }
        if lines.isEmpty { problems.append(.init(line: nil, message: "the file holds no prompts")) }
        guard problems.isEmpty else { throw PromptFileError(source: source, problems: problems) }
        return requests
    }

    /// The field checks of every line and of the defaults: `RequestValidation`'s, without a model
    /// (sizes in multiples of 8; the model's own factor is checked where it is known).
    static func problems(in request: GenerationRequest, count: Int) -> [String] {
        RequestValidation.problems(in: request, model: nil, count: count).map(\.message)
    }

    /// `count` copies of `request` with seeds seed, seed + 1, ...
    static func expand(_ request: GenerationRequest, count: Int) -> [GenerationRequest] {
        (0..<count).map { offset in
            var copy = request
            copy.seed = request.seed + UInt64(offset)
            return copy
        }
    }

    /// Lines that are not blank or comments, trimmed, with their 1-based numbers.
    private static func contentLines(_ text: String) -> [(number: Int, text: String)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty || trimmed.hasPrefix("#") ? nil : (index + 1, trimmed)
        }
    }
}

/// The problems of one JSONL line.
private struct LineProblems: Error {
    let messages: [String]
}

/// One JSONL line's object, checked field by field.
private struct JSONLine {
    private let fields: [String: JSONValue]

    init(_ text: String) throws {
        do {
            fields = try JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8))
        } catch {
            throw LineProblems(messages: [Self.whyNotJSON(text, error)])
        }
    }

    /// Why a line is not a JSONL request, as precisely as can be told.
    static func whyNotJSON(_ text: String, _ error: Error) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("{"), trimmed.hasSuffix("}") else {
            return "not a JSON object (a JSONL file has one {...} object a line)"
        }
        for word in ["NaN", "Infinity", "-Infinity"] where trimmed.range(of: ":\\s*\(word)\\b", options: .regularExpression) != nil {
            return "\(word) is not a JSON number (JSON has no NaN or Infinity): give a finite number"
        }
        let detail: String
        if case DecodingError.dataCorrupted(let context) = error {
            detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
        } else {
            detail = "\(error)"
        }
        return "not a JSON object: the text is not valid JSON (\(detail))"
    }

    /// The line's requests: defaults overridden by the fields, expanded by `count`.
    func requests(defaults: GenerationRequest, count defaultCount: Int) throws -> [GenerationRequest] {
        var problems: [String] = []
        for key in fields.keys.sorted() where !PromptFile.fieldNames.contains(key) {
            problems.append("unknown field \"\(key)\" (known: \(PromptFile.fieldNames.joined(separator: ", ")))")
        }
        var request = defaults
        var count = defaultCount
        for key in PromptFile.fieldNames {
            guard let value = fields[key] else { continue }
            if let problem = apply(key, value, to: &request, count: &count) { problems.append(problem) }
        }
        // Fields of the wrong type kept the (valid) defaults, so the range checks see only
        // values that were given well-typed.
        problems += PromptFile.problems(in: request, count: count)
        guard problems.isEmpty else { throw LineProblems(messages: problems) }
        return PromptFile.expand(request, count: count)
    }

    /// Sets one field; returns what is wrong with its type or value, if anything.
    private func apply(_ key: String, _ value: JSONValue, to request: inout GenerationRequest, count: inout Int) -> String? {
        switch key {
        case "prompt": return value.string(key).map { request.prompt = $0 }.problem
        case "negative_prompt": return value.string(key).map { request.negativePrompt = $0 }.problem
        case "model":
            if case .null = value { request.model = nil; return nil }
            return value.string(key).map { request.model = $0 }.problem
        case "seed":
            // -1 is AUTOMATIC1111's "random": a seed is drawn now, and the image records it.
            if case .integer(-1) = value { request.seed = GenerationRequest.randomSeed(); return nil }
            guard case .unsigned(let seed) = value else { return "seed must be a whole number >= 0 (or -1 for a random one), not \(value)" }
            request.seed = seed
        case "count": return value.integer(key).map { count = $0 }.problem
        case "steps": return value.integer(key).map { request.steps = $0 }.problem
        case "width": return value.integer(key).map { request.width = $0 }.problem
        case "height": return value.integer(key).map { request.height = $0 }.problem
        case "guidance_scale": return value.number(key).map { request.guidanceScale = $0 }.problem
        case "guidance_cutoff": return value.number(key).map { request.guidanceCutoff = $0 }.problem
        case "late_pass":
            guard case .string(let text) = value, let pass = LatePass(rawValue: text) else {
                return "late_pass must be \"uncond\" or \"cond\", not \(value)"
            }
            request.latePass = pass
        case "guidance_interval":
            // [sigma_low, sigma_high] or {"sigma_low": ..., "sigma_high": ...}; null: none.
            var bounds: (Float, Float)?
            switch value {
            case .null: request.guidanceInterval = nil; return nil
            case .array(let items) where items.count == 2:
                if let low = items[0].float, let high = items[1].float { bounds = (low, high) }
            case .object(let fields) where fields.count == 2:
                if let low = fields["sigma_low"]?.float, let high = fields["sigma_high"]?.float { bounds = (low, high) }
            default: break
            }
            guard let (low, high) = bounds else {
                return "guidance_interval must be [sigma_low, sigma_high] (two numbers) or {\"sigma_low\": ..., \"sigma_high\": ...}, not \(value)"
            }
            request.guidanceInterval = GuidanceInterval(sigmaLow: low, sigmaHigh: high)
        case "loras":
            // Written into the prompt as AUTOMATIC1111 tags, which is where the image records them.
            guard case .array(let items) = value else { return "loras must be a list of {\"name\": ..., \"weight\": ...}, not \(value)" }
            for item in items {
                guard case .object(let fields) = item, case .string(let name)? = fields["name"],
                      Set(fields.keys).isSubset(of: ["name", "weight"]), fields["weight"].map({ $0.float != nil }) ?? true else {
                    return "each entry of loras must be {\"name\": string, \"weight\": number}, not \(item)"
                }
                let tag = LoRAReference(name: name, weight: fields["weight"]?.float ?? 1).tag
                request.prompt += request.prompt.isEmpty ? tag : " " + tag
            }
        case "adaptive_guidance_threshold":
            if case .null = value { request.adaptiveGuidanceThreshold = nil; return nil }
            return value.number(key).map { request.adaptiveGuidanceThreshold = $0 }.problem
        case "guidance_rescale":
            if case .null = value { request.guidanceRescale = nil; return nil }
            return value.number(key).map { request.guidanceRescale = $0 }.problem
        case "prompt_syntax":
            if case .null = value { request.promptSyntax = nil; return nil }
            guard case .string(let text) = value, let syntax = PromptSyntax(rawValue: text) else {
                return "prompt_syntax must be \"a1111\" or \"literal\", not \(value)"
            }
            request.promptSyntax = syntax
        case "clip_skip":
            if case .null = value { request.clipSkip = nil; return nil }
            return value.integer(key).map { request.clipSkip = $0 }.problem
        case "scheduler":
            guard case .string(let text) = value, let kind = SchedulerKind(rawValue: text) else {
                let known = SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")
                return "unknown scheduler \(value) (known: \(known))"
            }
            request.scheduler = kind
        default: break
        }
        return nil
    }
}

/// A JSON value as a prompt file line may hold it; numbers keep whether they were integers.
private enum JSONValue: Decodable, CustomStringConvertible {
    case null, bool(Bool), integer(Int64), unsigned(UInt64), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(UInt64.self) { self = .unsigned(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// A finite number as Float, or nil.
    var float: Float? {
        switch self {
        case .integer(let v): return Float(v)
        case .unsigned(let v): return Float(v)
        case .number(let v) where v.isFinite: return Float(v)
        default: return nil
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .integer(let value): return String(value)
        case .unsigned(let value): return String(value)
        case .number(let value): return String(value)
        case .string(let value): return "\"\(value)\""
        case .array(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .object: return "an object"
        }
    }

    func string(_ key: String) -> Checked<String> {
        guard case .string(let value) = self else { return .problem("\(key) must be a string, not \(self)") }
        return .value(value)
    }

    func integer(_ key: String) -> Checked<Int> {
        switch self {
        case .unsigned(let value) where value <= UInt64(Int.max): return .value(Int(value))
        case .integer(let value): return .value(Int(value))
        default: return .problem("\(key) must be a whole number, not \(self)")
        }
    }

    func number(_ key: String) -> Checked<Float> {
        switch self {
        case .unsigned(let value): return .value(Float(value))
        case .integer(let value): return .value(Float(value))
        case .number(let value): return .value(Float(value))
        default: return .problem("\(key) must be a number, not \(self)")
        }
    }
}

/// A field's value or what is wrong with it.
private enum Checked<Value> {
    case value(Value)
    case problem(String)

    func map<Other>(_ transform: (Value) -> Other) -> Checked<Other> {
        switch self {
        case .value(let value): return .value(transform(value))
        case .problem(let message): return .problem(message)
        }
    }

    var problem: String? {
        if case .problem(let message) = self { return message }
        return nil
    }
}
