/// The PNG container: signature and chunks (length, type, data, CRC-32), walked and built
/// by hand so text chunks can be written and read without libpng's setjmp-based API.
public enum PNGChunks {
    /// The 8 bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// One chunk as found in a file.
    public struct Chunk: Sendable, Equatable {
        /// The 4-letter chunk type, e.g. `IHDR`, `tEXt`.
        public let type: String
        /// The chunk's data (without length, type and CRC).
        public let data: [UInt8]
        /// Byte offset of the chunk's length field in the file.
        public let offset: Int
    }

    /// Every chunk of `bytes`, in order, each CRC checked. Stops after `IEND`.
    /// Throws `notPNG`, `truncated`, `badCRC` or `missingIHDR`.
    public static func read(_ bytes: [UInt8]) throws -> [Chunk] {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw PNGError.notPNG }
        var chunks: [Chunk] = []
        var pos = 8
        while pos < bytes.count {
            let chunk = try readChunk(bytes, at: pos)
            if chunks.isEmpty && chunk.type != "IHDR" { throw PNGError.missingIHDR }
            chunks.append(chunk)
            pos += 12 + chunk.data.count
            if chunk.type == "IEND" { return chunks }
        }
        throw PNGError.truncated(chunk: "IEND", at: pos)
    }

    private static func readChunk(_ bytes: [UInt8], at pos: Int) throws -> Chunk {
        guard pos + 8 <= bytes.count else { throw PNGError.truncated(chunk: "(header)", at: pos) }
        let length = Int(readUInt32(bytes, at: pos))
        let typeBytes = bytes[(pos + 4)..<(pos + 8)]
        let type = String(decoding: typeBytes, as: UTF8.self)
        guard length <= 0x7FFF_FFFF, pos + 12 + length <= bytes.count else {
            throw PNGError.truncated(chunk: type, at: pos)
        }
        let data = Array(bytes[(pos + 8)..<(pos + 8 + length)])
        let stored = readUInt32(bytes, at: pos + 8 + length)
        let computed = CRC32.update(CRC32.checksum(typeBytes), data)
        guard stored == computed else { throw PNGError.badCRC(chunk: type, at: pos) }
        return Chunk(type: type, data: data, offset: pos)
    }

    /// A complete chunk: big-endian length, type, data, CRC-32 over type and data.
    public static func make(type: String, data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4, "a PNG chunk type has 4 letters, got \"\(type)\"")
        var out: [UInt8] = []
        out.reserveCapacity(12 + data.count)
        appendUInt32(&out, UInt32(data.count))
        out += typeBytes
        out += data
        appendUInt32(&out, CRC32.update(CRC32.checksum(typeBytes), data))
        return out
    }

    /// `png` with `chunks` (complete, from `make`) inserted right after IHDR, where
    /// readers that stop early still see them.
    public static func insertAfterIHDR(_ png: [UInt8], chunks: [[UInt8]]) throws -> [UInt8] {
        guard png.count >= 8, Array(png[0..<8]) == signature else { throw PNGError.notPNG }
        let ihdr = try readChunk(png, at: 8)
        guard ihdr.type == "IHDR" else { throw PNGError.missingIHDR }
        let end = 8 + 12 + ihdr.data.count
        var out = Array(png[0..<end])
        for chunk in chunks { out += chunk }
        out += png[end...]
        return out
    }

    static func readUInt32(_ bytes: [UInt8], at pos: Int) -> UInt32 {
        UInt32(bytes[pos]) << 24 | UInt32(bytes[pos + 1]) << 16 | UInt32(bytes[pos + 2]) << 8 | UInt32(bytes[pos + 3])
    }

    static func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
