import Foundation

/// Why a `parameters` text could not be read back; each message names what is wrong.
public enum GenerationParametersError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The last line is not a list of `Key: value` pairs.
    case noParametersLine(String)
    /// A key needed to rebuild the request is absent.
    case missingKey(String)
    /// A key's value does not have the expected form.
    case badValue(key: String, value: String, expected: String)
    /// The sampler is not one sdcluster implements.
    case unknownSampler(String)

    public var description: String {
        switch self {
        case .noParametersLine(let line):
            return "the last line is not \"Key: value, Key: value, ...\" parameters: \"\(line)\"."
        case .missingKey(let key):
            return "the parameters line has no \"\(key): ...\"; it is needed to repeat the generation."
        case .badValue(let key, let value, let expected):
            return "\"\(key): \(value)\" is not valid: expected \(expected)."
        case .unknownSampler(let name):
            let known = SchedulerKind.allCases.map(\.samplerName).joined(separator: ", ")
            return "sampler \"\(name)\" is not supported; sdcluster has \(known)."
        }
    }

    public var errorDescription: String? { description }
}

extension GenerationParameters {
    /// Reads a `parameters` text written by sdcluster or by the web UI.
    /// - Throws: `GenerationParametersError` when the text lacks what a request needs.
    public init(parsing text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let last = lines.removeLast()
        guard let pairs = Self.pairs(in: last), pairs.count >= 3 else {
            throw GenerationParametersError.noParametersLine(last)
        }
        var prompt: [String] = []
        var negative: [String]?
        for line in lines {
            if negative == nil, line.hasPrefix(Self.negativePromptPrefix) {
                negative = [String(line.dropFirst(Self.negativePromptPrefix.count))]
            } else if negative != nil {
                negative!.append(line)
            } else {
                prompt.append(line)
            }
        }
        var reader = FieldReader(pairs: pairs)
        let request = try reader.request(prompt: prompt.joined(separator: "\n"),
                                         negativePrompt: negative?.joined(separator: "\n") ?? "")
        let evaluations = try reader.take("UNet evaluations").map { try FieldReader.integer($0, "UNet evaluations") }
        let engine = reader.take("Engine")
        self.init(request: request, unetEvaluations: evaluations, engine: engine, otherFields: reader.remaining)
    }

    /// Splits `Key: value, Key: "quoted, value", ...`; nil when the line is not of that form.
    static func pairs(in line: String) -> [Field]? {
        var fields: [Field] = []
        var rest = Substring(line)
        while true {
            rest = rest.drop(while: { $0 == " " })
            if rest.isEmpty { return fields }
            guard let colon = rest.firstIndex(of: ":") else { return nil }
            let key = String(rest[..<colon])
            guard isKey(key) else { return nil }
            rest = rest[rest.index(after: colon)...].drop(while: { $0 == " " })
            let value: String
            if rest.first == "\"" {
                guard let (unquoted, after) = unquote(rest) else { return nil }
                value = unquoted
                rest = after.drop(while: { $0 == " " })
                guard rest.isEmpty || rest.first == "," else { return nil }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            fields.append(Field(key: key, value: value))
            if rest.first == "," { rest = rest.dropFirst() }
        }
    }

    /// The web UI's key pattern: a word character, then word characters, spaces, `-` or `/`.
    private static func isKey(_ key: String) -> Bool {
        guard key.count >= 2, let first = key.first, first.isLetter || first.isNumber || first == "_" else {
            return false
        }
        return key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == " " || $0 == "-" || $0 == "/" }
    }

    /// A JSON string at the start of `text`, decoded, and the text after it.
    private static func unquote(_ text: Substring) -> (String, Substring)? {
        var index = text.index(after: text.startIndex)
        var escaped = false
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                let literal = text[text.startIndex...index]
                guard let data = literal.data(using: .utf8),
                      let string = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) as? String
                else { return nil }
                return (string, text[text.index(after: index)...])
            }
            index = text.index(after: index)
        }
        return nil
    }
}

/// Takes known keys out of a parameters line, leaving the others in order.
private struct FieldReader {
    var remaining: [GenerationParameters.Field]

    init(pairs: [GenerationParameters.Field]) {
        remaining = pairs
    }

    mutating func take(_ key: String) -> String? {
        guard let index = remaining.firstIndex(where: { $0.key == key }) else { return nil }
        return remaining.remove(at: index).value
    }

    mutating func require(_ key: String) throws -> String {
        guard let value = take(key) else { throw GenerationParametersError.missingKey(key) }
        return value
    }

    mutating func request(prompt: String, negativePrompt: String) throws -> GenerationRequest {
        let steps = try Self.integer(require("Steps"), "Steps")
        // No sampler: the model's own (a request without one; sdcluster's images always name it).
        var scheduler: SchedulerKind?
        if let samplerName = take("Sampler") {
            let scheduleType = take("Schedule type")
            guard let kind = SchedulerKind(samplerName: samplerName, scheduleType: scheduleType) else {
                throw GenerationParametersError.unknownSampler(samplerName)
            }
            scheduler = kind
        }
        let scale = try Self.float(require("CFG scale"), "CFG scale")
        let seedText = try require("Seed")
        guard let seed = UInt64(seedText) else {
            throw GenerationParametersError.badValue(key: "Seed", value: seedText, expected: "a whole number >= 0")
        }
        let (width, height) = try Self.size(require("Size"))
        var request = GenerationRequest(prompt: prompt, negativePrompt: negativePrompt, seed: seed, steps: steps,
                                        guidanceScale: scale, scheduler: scheduler, width: width, height: height,
                                        model: take("Model"))
        if let cutoff = take("Guidance cutoff") { request.guidanceCutoff = try Self.float(cutoff, "Guidance cutoff") }
        if let late = take("Late pass") {
            guard let pass = LatePass(rawValue: late) else {
                throw GenerationParametersError.badValue(key: "Late pass", value: late, expected: "uncond or cond")
            }
            request.latePass = pass
        }
        if let interval = take("Guidance interval") {
            let parts = interval.split(separator: " ").compactMap { Float(String($0)) }
            guard parts.count == 2 else {
                throw GenerationParametersError.badValue(key: "Guidance interval", value: interval, expected: "two numbers: sigma_low sigma_high")
            }
            request.guidanceInterval = GuidanceInterval(sigmaLow: parts[0], sigmaHigh: parts[1])
        }
        if let threshold = take("Adaptive guidance") {
            request.adaptiveGuidanceThreshold = try Self.float(threshold, "Adaptive guidance")
        }
        if let phi = take("Guidance rescale") {
            request.guidanceRescale = try Self.float(phi, "Guidance rescale")
        }
        if let clipSkip = take("Clip skip") { request.clipSkip = try Self.integer(clipSkip, "Clip skip") }
        if let syntax = take("Prompt syntax") {
            guard let value = PromptSyntax(rawValue: syntax) else {
                throw GenerationParametersError.badValue(key: "Prompt syntax", value: syntax, expected: "a1111 or literal")
            }
            request.promptSyntax = value
        }
        return request
    }

    static func integer(_ text: String, _ key: String) throws -> Int {
        guard let value = Int(text) else {
            throw GenerationParametersError.badValue(key: key, value: text, expected: "a whole number")
        }
        return value
    }

    static func float(_ text: String, _ key: String) throws -> Float {
        guard let value = Float(text), value.isFinite else {
            throw GenerationParametersError.badValue(key: key, value: text, expected: "a number")
        }
        return value
    }

    static func size(_ text: String) throws -> (Int, Int) {
        let parts = text.split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]) else {
            throw GenerationParametersError.badValue(key: "Size", value: text, expected: "WIDTHxHEIGHT, e.g. 512x512")
        }
        return (width, height)
    }
}
