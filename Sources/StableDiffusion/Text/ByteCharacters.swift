/// GPT-2's reversible map from bytes to printable Unicode characters, which byte-level BPE
/// vocabularies (CLIP's included) are written in.
///
/// Bytes that are already printable Latin-1 (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) stand for
/// themselves; the remaining 68 bytes (controls, space, DEL, NBSP, soft hyphen) take the
/// characters U+0100, U+0101, ... in byte order, so that no vocabulary entry holds a space
/// or a control character.
enum ByteCharacters {
    /// The character that stands for each byte value, indexed by byte.
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var nextSubstitute: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(nextSubstitute)!
                nextSubstitute += 1
            }
        }
        return table
    }()

    /// The byte each vocabulary character stands for (the inverse of `characters`).
    static let bytes: [Unicode.Scalar: UInt8] = {
        var inverse: [Unicode.Scalar: UInt8] = [:]
        for (byte, character) in characters.enumerated() {
            inverse[character] = UInt8(byte)
        }
        return inverse
    }()

    private static func standsForItself(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
