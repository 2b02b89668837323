/// Why a textual-inversion embedding cannot be used. Each message names the file or the name and
/// says what to do.
public enum TextualInversionError: Error, Equatable, CustomStringConvertible {
    /// A prompt names an embedding whose file was not loaded (a pickle file, say).
    case refused(name: String, reason: String)
    /// The folder given as `--embedding-dir` cannot be read.
    case unreadableDirectory(path: String, reason: String)
    /// A `.safetensors` file that is not an A1111 / diffusers embedding for this text encoder.
    case invalidFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .refused(let name, let reason):
            return "the prompt uses the embedding '\(name)', which cannot be used: \(reason)"
        case .unreadableDirectory(let path, let reason):
            return "--embedding-dir \(path): \(reason)"
        case .invalidFile(let path, let reason):
            return "embedding \(path): \(reason)"
        }
    }
}
