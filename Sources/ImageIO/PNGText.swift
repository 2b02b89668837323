/// PNG text chunks: `tEXt` (Latin-1) and `iTXt` (UTF-8, uncompressed), built and parsed.
public enum PNGText {
    /// A `tEXt` chunk when `text` fits Latin-1, else an `iTXt` chunk (UTF-8), so any prompt
    /// survives. The keyword must be 1-79 printable Latin-1 characters.
    public static func chunk(keyword: String, text: String) throws -> [UInt8] {
        let key = try keywordBytes(keyword)
        guard !text.unicodeScalars.contains("\u{0}") else {
            throw PNGError.badTextChunk(chunk: "tEXt", reason: "text for \"\(keyword)\" contains a NUL character")
        }
        if let latin1 = latin1Bytes(text) {
            return PNGChunks.make(type: "tEXt", data: key + [0] + latin1)
        }
        // keyword\0, compression flag 0, method 0, empty language tag\0, empty translated keyword\0
        return PNGChunks.make(type: "iTXt", data: key + [0, 0, 0, 0, 0] + Array(text.utf8))
    }

    /// The keyword and text of a `tEXt` or uncompressed `iTXt` chunk's data; `nil` for a
    /// compressed `iTXt` (this module carries no inflater; sdcluster never writes those).
    public static func parse(type: String, data: [UInt8]) throws -> (String, String)? {
        guard let nul = data.firstIndex(of: 0) else {
            throw PNGError.badTextChunk(chunk: type, reason: "no NUL byte after the keyword")
        }
        guard nul >= 1 && nul <= 79 else {
            throw PNGError.badTextChunk(chunk: type, reason: "keyword length \(nul) is outside 1-79")
        }
        let keyword = latin1String(data[0..<nul])
        if type == "tEXt" {
            return (keyword, latin1String(data[(nul + 1)...]))
        }
        guard type == "iTXt" else { return nil }
        var pos = nul + 1
        guard pos + 2 <= data.count else {
            throw PNGError.badTextChunk(chunk: type, reason: "missing compression flag and method")
        }
        let compressed = data[pos] != 0
        pos += 2
        for field in ["language tag", "translated keyword"] {
            guard let end = data[pos...].firstIndex(of: 0) else {
                throw PNGError.badTextChunk(chunk: type, reason: "no NUL after the \(field)")
            }
            pos = end + 1
        }
        if compressed { return nil }
        guard let text = String(validating: data[pos...], as: UTF8.self) else {
            throw PNGError.badTextChunk(chunk: type, reason: "text is not valid UTF-8")
        }
        return (keyword, text)
    }

    static func keywordBytes(_ keyword: String) throws -> [UInt8] {
        guard let bytes = latin1Bytes(keyword), (1...79).contains(bytes.count),
              bytes.allSatisfy({ (32...126).contains($0) || $0 >= 161 }),
              bytes.first != 32, bytes.last != 32,
              !keyword.contains("  ") else {
            throw PNGError.badKeyword(keyword)
        }
        return bytes
    }

    /// The Latin-1 bytes of `s`, or nil if it holds a character beyond U+00FF.
    static func latin1Bytes(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        for scalar in s.unicodeScalars {
            guard scalar.value < 256 else { return nil }
            out.append(UInt8(scalar.value))
        }
        return out
    }

    static func latin1String<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(b)) }
        return String(s)
    }
}
