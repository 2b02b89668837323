import Foundation

/// The public keys one role admits, each with a name for logs and STATUS, read from a folder
/// (every `*.pub` file in it, named after the file, as `sdcluster keygen` writes them) or from
/// one file (a key a line, optionally followed by a name; lines starting with `#` are comments). Re-read on
/// SIGHUP, so adding a worker is: copy its `.pub` in, `kill -HUP` the coordinator.
struct AllowList: Equatable, Sendable {
    /// Where it was read from.
    let source: String
    /// Public key -> name.
    let names: [CurveKey: String]

    func contains(_ key: CurveKey) -> Bool { names[key] != nil }

    static func load(_ path: String) throws -> AllowList {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SecurityError.allowList(path: path, line: nil, "does not exist; give a folder of .pub files or a file of keys")
        }
        var names: [CurveKey: String] = [:]
        if isDirectory.boolValue {
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            } catch {
                throw SecurityError.allowList(path: path, line: nil, "cannot be listed: \(error.localizedDescription)")
            }
            for entry in entries where entry.hasSuffix(".pub") {
                let file = (path as NSString).appendingPathComponent(entry)
                for (key, name) in try parse(try KeyFiles.text(of: file), path: file) {
                    names[key] = name ?? String(entry.dropLast(4))
                }
            }
        } else {
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            for (key, name) in try parse(try KeyFiles.text(of: path), path: path) {
                names[key] = name ?? (path.hasSuffix(".pub") ? stem : String(key.z85.prefix(8)))
            }
        }
        return AllowList(source: path, names: names)
    }

    /// The keys of a file, each with the name written after it (if any).
    private static func parse(_ text: String, path: String) throws -> [(CurveKey, String?)] {
        var out: [(CurveKey, String?)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            // '#' is a Z85 character: a line is a comment only when its first word is no key.
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let first = words.first else { continue }
            guard let key = try? CurveKey(z85: String(first)) else {
                if first.hasPrefix("#") { continue }
                throw SecurityError.allowList(path: path, line: i + 1,
                                              "'\(first.prefix(12))' is not a CURVE public key (40 characters of Z85, as in a .pub file)")
            }
            let name = words.dropFirst().prefix { !$0.hasPrefix("#") }.joined(separator: " ")
            out.append((key, name.isEmpty ? nil : name))
        }
        return out
    }
}
