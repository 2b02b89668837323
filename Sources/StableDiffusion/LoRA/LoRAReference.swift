import Foundation

/// One LoRA asked for by an image: its name (the file name in `--lora-dir` without
/// `.safetensors`) and how strongly it applies to each network.
///
/// AUTOMATIC1111's prompt syntax: `<lora:NAME>` (weight 1), `<lora:NAME:W>` (W for both
/// networks), `<lora:NAME:TE:UNET>` (text encoder first), or named `te=W` / `unet=W`.
public struct LoRAReference: Sendable, Hashable, Codable {
    public var name: String
    public var textEncoderWeight: Float
    public var unetWeight: Float

    public init(name: String, weight: Float = 1) {
        self.init(name: name, textEncoderWeight: weight, unetWeight: weight)
    }

    public init(name: String, textEncoderWeight: Float, unetWeight: Float) {
        self.name = name
        self.textEncoderWeight = textEncoderWeight
        self.unetWeight = unetWeight
    }

    /// The tag as AUTOMATIC1111 writes it: `<lora:NAME:W>`, or `<lora:NAME:TE:UNET>` when the two differ.
    public var tag: String {
        let te = GenerationParameters.number(textEncoderWeight)
        if textEncoderWeight == unetWeight { return "<lora:\(name):\(te)>" }
        return "<lora:\(name):\(te):\(GenerationParameters.number(unetWeight))>"
    }

    /// Checks a name: not empty, no path tricks, no characters that break the prompt syntax.
    static func validated(name: String, in text: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw LoRAError.badReference(text: text, detail: "the name is empty") }
        guard !trimmed.contains(":"), !trimmed.contains("<"), !trimmed.contains(">"),
              !trimmed.split(separator: "/").contains(".."), !trimmed.hasPrefix("/") else {
            throw LoRAError.badReference(text: text, detail: "the name '\(trimmed)' may not hold ':', '<', '>', '..' or start with '/'")
        }
        return trimmed
    }
}

/// `<lora:...>` tags in a prompt: finding them, and the prompt without them.
public enum LoRATags {
    /// The LoRAs a prompt names, in order. Throws `LoRAError.badReference` for a malformed tag.
    public static func references(in prompt: String) throws -> [LoRAReference] {
        try tagRanges(in: prompt).map { try parse(String(prompt[$0])) }
    }

    /// The prompt with every `<lora:...>` tag removed, as AUTOMATIC1111 removes them before
    /// encoding (only the tag: the text around it, spaces and commas included, stays).
    public static func removed(from prompt: String) -> String {
        var result = prompt
        for range in tagRanges(in: prompt).reversed() { result.removeSubrange(range) }
        return result
    }

    /// Ranges of `<lora:` ... `>` (no `<` or `>` inside).
    public static func tagRanges(in prompt: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var searchFrom = prompt.startIndex
        while let open = prompt.range(of: "<lora:", options: .caseInsensitive, range: searchFrom..<prompt.endIndex) {
            guard let close = prompt[open.upperBound...].firstIndex(where: { $0 == ">" || $0 == "<" }), prompt[close] == ">" else {
                searchFrom = open.upperBound
                continue
            }
            ranges.append(open.lowerBound..<prompt.index(after: close))
            searchFrom = prompt.index(after: close)
        }
        return ranges
    }

    /// One tag `<lora:NAME[:TE[:UNET]]>` or with named `te=`, `unet=` parameters.
    static func parse(_ tag: String) throws -> LoRAReference {
        let inner = tag.dropFirst("<lora:".count).dropLast()
        let parts = inner.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let name = try LoRAReference.validated(name: parts[0], in: tag)
        var positional: [Float] = [], named: [String: Float] = [:]
        for part in parts.dropFirst() {
            let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
            let valueText = pieces.count == 2 ? pieces[1] : part
            guard let value = Float(valueText), value.isFinite else {
                throw LoRAError.badReference(text: tag, detail: "'\(part)' is not a number")
            }
            if pieces.count == 2 {
                guard ["te", "unet"].contains(pieces[0]) else {
                    throw LoRAError.badReference(text: tag, detail: "unknown parameter '\(pieces[0])' (known: te, unet)")
                }
                named[pieces[0]] = value
            } else {
                positional.append(value)
            }
        }
        guard positional.count <= 2 else { throw LoRAError.badReference(text: tag, detail: "more than two weights") }
        let te = named["te"] ?? positional.first ?? 1
        let unet = named["unet"] ?? (positional.count > 1 ? positional[1] : te)
        return LoRAReference(name: name, textEncoderWeight: te, unetWeight: unet)
    }
}
