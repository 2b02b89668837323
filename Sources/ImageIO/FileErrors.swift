import Foundation

/// Words for file-system failures: Foundation's errors on Linux often print as
/// `NSCocoaErrorDomain Code=512 "(null)"`; users need the path and the OS reason.
public enum FileErrors {
    /// The OS reason inside a Foundation (or POSIX) error, e.g. "No space left on device".
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        switch ns.code {
        case NSFileWriteOutOfSpaceError: return String(cString: strerror(ENOSPC))
        case NSFileWriteVolumeReadOnlyError: return String(cString: strerror(EROFS))
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return String(cString: strerror(EACCES))
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return String(cString: strerror(ENOENT))
        default: break
        }
        let text = ns.localizedDescription
        return text.isEmpty || text.contains("(null)") ? "error \(ns.domain) \(ns.code)" : text
    }
}

/// A folder this program must write into, checked before any work depends on it.
public enum WritableFolder {
    /// Creates `path` (and its parents) when missing and proves it takes a file, by writing and
    /// removing a small one. Throws `FolderError` naming the folder, its role and the OS reason.
    public static func check(_ path: String, role: String) throws {
        if let failure = makeDirectories(path) {
            throw FolderError(path: path, role: role, reason: "cannot be created: \(failure)")
        }
        let probe = (path as NSString).appendingPathComponent(".sdcluster-write-test-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw FolderError(path: path, role: role, reason: "is not writable: \(String(cString: strerror(errno)))") }
        let written = write(fd, "x", 1)
        let writeErrno = errno
        close(fd)
        unlink(probe)
        guard written == 1 else { throw FolderError(path: path, role: role, reason: "cannot take data: \(String(cString: strerror(writeErrno)))") }
    }
}

extension WritableFolder {
    /// `mkdir -p` with the OS reason of the first failure (Foundation's own error on Linux often
    /// has none: "NSCocoaErrorDomain error 512"). Nil on success.
    static func makeDirectories(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? nil : String(cString: strerror(ENOTDIR))
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path, let failure = makeDirectories(parent) { return failure }
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return nil }
        return String(cString: strerror(errno))
    }
}

/// A folder that cannot be used, and why.
public struct FolderError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let role: String
    public let reason: String

    public init(path: String, role: String, reason: String) {
        self.path = path
        self.role = role
        self.reason = reason
    }

    public var description: String { "the \(role) \(path) \(reason)" }
}
