/// What went wrong while reading or writing a PNG, worded so the user knows what to do.
public enum PNGError: Error, Equatable, CustomStringConvertible {
    /// The bytes do not start with the 8-byte PNG signature.
    case notPNG
    /// The data ends inside a chunk (the file was cut short).
    case truncated(chunk: String, at: Int)
    /// A chunk's stored CRC-32 does not match its contents.
    case badCRC(chunk: String, at: Int)
    /// The first chunk is not IHDR, so the file is malformed.
    case missingIHDR
    /// A text chunk is malformed (no keyword terminator, bad keyword, compressed data, ...).
    case badTextChunk(chunk: String, reason: String)
    /// A text keyword is not 1-79 printable Latin-1 characters.
    case badKeyword(String)
    /// libpng refused the image; its own message is included.
    case libpng(String)
    /// The image has a size libpng cannot hold (zero or too large).
    case badSize(width: Int, height: Int)
    /// Reading or writing a file failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .notPNG:
            return "not a PNG file: the first 8 bytes are not the PNG signature"
        case .truncated(let chunk, let at):
            return "truncated PNG: chunk \(chunk) at byte \(at) runs past the end of the data (was the file cut short?)"
        case .badCRC(let chunk, let at):
            return "corrupt PNG: chunk \(chunk) at byte \(at) fails its CRC-32 check (the file is damaged)"
        case .missingIHDR:
            return "malformed PNG: the first chunk must be IHDR"
        case .badTextChunk(let chunk, let reason):
            return "malformed \(chunk) text chunk: \(reason)"
        case .badKeyword(let key):
            return "invalid PNG text keyword \"\(key)\": use 1-79 printable Latin-1 characters without leading, trailing or double spaces"
        case .libpng(let message):
            return "libpng: \(message)"
        case .badSize(let width, let height):
            return "cannot write a \(width)x\(height) PNG: both sides must be between 1 and 2^31-1"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}
