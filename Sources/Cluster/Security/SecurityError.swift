/// Why keys or allow-lists could not be used. Each message names the file and what to do.
public enum SecurityError: Error, Equatable, CustomStringConvertible {
    case keyFile(String, String)
    case allowList(path: String, line: Int?, String)
    case incomplete(String)

    public var description: String {
        switch self {
        case .keyFile(let path, let why):
            return "key file \(path) \(why)"
        case .allowList(let path, let line, let why):
            return "allow-list \(path)\(line.map { ":\($0)" } ?? ""): \(why)"
        case .incomplete(let why):
            return why
        }
    }
}
