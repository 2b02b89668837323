/// Builds PNG files without libpng (stored, uncompressed deflate blocks), so the decoder is
/// tested against bytes that an independent writer produced straight from the PNG spec.
enum HandMadePNG {
    /// colorType: 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA; 8-bit samples; `rows` without filter bytes.
    static func make(width: Int, height: Int, colorType: UInt8, rows: [[UInt8]]) -> [UInt8] {
        var raw: [UInt8] = []
        for row in rows { raw.append(0); raw += row }  // filter type 0 (None) per row
        var ihdr: [UInt8] = []
        ihdr += be32(UInt32(width)); ihdr += be32(UInt32(height))
        ihdr += [8, colorType, 0, 0, 0]
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", ihdr)
        out += chunk("IDAT", zlibStored(raw))
        out += chunk("IEND", [])
        return out
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be32(UInt32(data.count)) + t + data + be32(crc(t + data))
    }

    /// zlib stream with one final stored block (fits up to 65535 bytes) and the Adler-32.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        precondition(data.count <= 65535)
        let n = UInt16(data.count)
        var out: [UInt8] = [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)]
        out += data
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return out + be32(b << 16 | a)
    }

    /// Bitwise CRC-32 (no table), a second implementation to check the module's against.
    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in bytes {
            c ^= UInt32(x)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
