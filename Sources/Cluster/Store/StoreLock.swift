import Foundation

/// An exclusive hold on a coordinator's store folder, so that two coordinators never resume the
/// same unfinished images and compute each twice. `flock` on `<store>/coordinator.lock`: the
/// kernel drops it when the holder exits, however it dies, so a killed coordinator never
/// leaves a stale lock. The file names the holder (pid, host, start time) for the refusal.
final class StoreLock {
    let path: String
    private let fd: Int32

    /// Takes the lock or throws `StoreLockError.held` naming the holder.
    init(directory: String) throws {
        path = (directory as NSString).appendingPathComponent("coordinator.lock")
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreLockError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw StoreLockError.held(directory: directory, holder: holder?.isEmpty == false ? holder! : "unknown")
        }
        let holder = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName) since \(ISO8601DateFormatter().string(from: Date()))\n"
        _ = ftruncate(fd, 0)
        _ = holder.withCString { write(fd, $0, strlen($0)) }
    }

    deinit {
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }
}

enum StoreLockError: Error, Equatable, CustomStringConvertible {
    case held(directory: String, holder: String)
    case cannotOpen(path: String, reason: String)

    var description: String {
        switch self {
        case .held(let directory, let holder):
            return "the store \(directory) is in use by another coordinator (\(holder)): stop that one first, or give this one another --store"
        case .cannotOpen(let path, let reason):
            return "cannot open \(path): \(reason)"
        }
    }
}
