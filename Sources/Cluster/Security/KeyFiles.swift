import Foundation

/// CURVE key files as `sdcluster keygen` writes them: `NAME.key` holds the secret key (mode
/// 0600), `NAME.pub` the public key. Both are text: `#` comment lines, then the key in Z85
/// (40 characters). The public file can be copied anywhere; the secret one never leaves its box.
public enum KeyFiles {
    /// Writes a fresh key pair to `<base>.key` and `<base>.pub` and returns the public key's
    /// Z85 text. Refuses to overwrite either file unless `overwrite`.
    @discardableResult
    public static func generate(base: String, name: String, overwrite: Bool = false) throws -> String {
        let pair = try CurveKeyPair.generate()
        let secretPath = base + ".key", publicPath = base + ".pub"
        let files = FileManager.default
        if !overwrite {
            for path in [secretPath, publicPath] where files.fileExists(atPath: path) {
                throw SecurityError.keyFile(path, "already exists; pass --force to replace it (peers holding its public key will be refused)")
            }
        }
        let secretText = "# sdcluster CURVE secret key of '\(name)'. Keep it private: whoever has it is '\(name)'.\n\(pair.secretKey.z85)\n"
        let publicText = "# sdcluster CURVE public key of '\(name)'. Copy it to the coordinator's allow-list.\n\(pair.publicKey.z85)\n"
        try writeSecret(secretText, to: secretPath)
        do {
            try Data(publicText.utf8).write(to: URL(fileURLWithPath: publicPath), options: .atomic)
        } catch {
            throw SecurityError.keyFile(publicPath, "could not be written: \(error.localizedDescription)")
        }
        return pair.publicKey.z85
    }

    /// Creates the file with mode 0600 from the start, so the secret is never readable by others.
    private static func writeSecret(_ text: String, to path: String) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw SecurityError.keyFile(path, "could not be created: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw SecurityError.keyFile(path, "could not be written: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a secret key file and derives its pair. Refuses a file others can read or write,
    /// as ssh does: such a key may already be someone else's.
    static func readSecret(_ path: String) throws -> CurveKeyPair {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecurityError.keyFile(path, "cannot be read: \(String(cString: strerror(errno))); make one with `sdcluster keygen NAME`")
        }
        if info.st_mode & 0o077 != 0 {
            throw SecurityError.keyFile(path, "is readable or writable by others (mode \(String(info.st_mode & 0o777, radix: 8))); run `chmod 600 \(path)`")
        }
        let key = try keyText(in: try text(of: path), path: path)
        do {
            return try CurveKeyPair.derive(from: try CurveKey(z85: key))
        } catch {
            throw SecurityError.keyFile(path, "does not hold a CURVE secret key: \(error)")
        }
    }

    /// A public key given on the command line: a key file (`NAME.pub`) or the 40-character Z85
    /// text itself.
    static func readPublic(_ fileOrKey: String) throws -> CurveKey {
        if !FileManager.default.fileExists(atPath: fileOrKey), fileOrKey.utf8.count == 40,
           let key = try? CurveKey(z85: fileOrKey) {
            return key
        }
        let key = try keyText(in: try text(of: fileOrKey), path: fileOrKey)
        do {
            return try CurveKey(z85: key)
        } catch {
            throw SecurityError.keyFile(fileOrKey, "does not hold a CURVE public key: \(error)")
        }
    }

    static func text(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError.keyFile(path, "cannot be read (no such file, or no permission)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The first word of the first line that is neither empty nor a comment. ('#' is a Z85
    /// character, so a 40-character first word is a key even when it starts with '#'.)
    private static func keyText(in text: String, path: String) throws -> String {
        for line in text.split(whereSeparator: \.isNewline) {
            guard let first = line.split(whereSeparator: \.isWhitespace).first else { continue }
            if first.hasPrefix("#") && first.utf8.count != 40 { continue }
            return String(first)
        }
        throw SecurityError.keyFile(path, "holds no key (only comments or nothing)")
    }
}
