import Compute
import Foundation

/// A memory-mapped `.safetensors` file: the header is parsed and validated once at open, tensor
/// data is read from the mapping (and widened to float32) only when a tensor is requested.
public final class SafeTensorsFile: @unchecked Sendable {
    /// File extensions of pickle-based checkpoints, which are refused: unpickling runs code.
    public static let pickleExtensions: Set<String> = ["ckpt", "bin", "pt", "pth", "pkl", "pickle"]

    public let path: String
    /// File size in bytes.
    public let size: Int
    /// `__metadata__` of the header (string values only).
    public let metadata: [String: String]
    private let header: SafeTensorsHeader
    private let mapping: UnsafeRawPointer
    /// SHA-256 digests computed so far, by start offset.
    private var digests: [Int: String] = [:]
    private let digestLock = NSLock()

    /// Maps the file and validates its header (JSON, offsets in range, sizes match shapes).
    /// Refuses pickle checkpoints by extension before touching their contents.
    public init(path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        if Self.pickleExtensions.contains(ext) { throw WeightError.pickleRefused(file: path) }
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw WeightError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw WeightError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw WeightError.cannotOpen(file: path, reason: "not a regular file") }
        size = Int(info.st_size)
        guard size >= 8 else {
            throw WeightError.truncated(file: path, detail: "\(size) bytes, less than the 8-byte header length")
        }
        guard let raw = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), raw != MAP_FAILED else {
            throw WeightError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        mapping = UnsafeRawPointer(raw)
        do {
            header = try SafeTensorsHeader(bytes: UnsafeRawPointer(raw), fileSize: size, path: path)
        } catch {
            munmap(raw, size)
            throw error
        }
        metadata = header.metadata
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: mapping), size)
    }

    /// All tensor names in the file, sorted.
    public var names: [String] { header.entries.keys.sorted() }

    /// The header entry of a tensor (dtype, shape, offsets), or nil if absent.
    public func entry(_ name: String) -> SafeTensorsEntry? { header.entries[name] }

    public func shape(of name: String) -> [Int]? { header.entries[name]?.shape }

    /// The raw header bytes (length prefix and JSON), a cheap fingerprint of the file's layout.
    public var headerBytes: Data { Data(bytes: mapping, count: header.dataStart) }

    /// `count` raw bytes from byte `offset` of the file (clamped to the file).
    public func rawBytes(offset: Int, count: Int) -> Data {
        let start = min(max(offset, 0), size)
        return Data(bytes: mapping + start, count: min(count, size - start))
    }

    /// SHA-256 (hex) of the file's bytes from `offset` to the end: `0` gives the whole file's digest
    /// (what AUTOMATIC1111 shows as a VAE's hash), `dataOffset` that of the tensor data alone (the
    /// "addnet" hash it shows for LoRAs, which ignores edits to the header's metadata). Reads the
    /// whole file once (later calls answer from memory), then drops its pages as `tensor` does.
    func sha256Hex(from offset: Int) -> String {
        let start = min(max(offset, 0), size)
        digestLock.lock()
        defer { digestLock.unlock() }
        if let known = digests[start] { return known }
        let digest = SHA256.hex(UnsafeRawBufferPointer(start: mapping + start, count: size - start))
        releasePages(from: start, to: size)
        digests[start] = digest
        return digest
    }

    /// Byte offset where tensor data begins (after the length prefix and the JSON header).
    var dataOffset: Int { header.dataStart }

    /// Reads a tensor and widens it to float32 (F32/F16/BF16 only).
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = header.entries[name] else { throw WeightError.missingKey(source: path, key: name) }
        guard let dtype = entry.dtype, dtype.isConvertible else {
            throw WeightError.unsupportedDType(file: path, key: name, dtype: entry.dtypeName)
        }
        let out = Tensor(uninitialized: entry.shape)
        FloatWidening.widen(dtype, from: mapping + header.dataStart + entry.begin, into: out.pointer, count: entry.elementCount)
        releasePages(from: header.dataStart + entry.begin, to: header.dataStart + entry.end)
        return out
    }

    /// Drops the mapping's pages of bytes `start..<end` from this process: the model's layers
    /// keep their own (converted, packed) copies, and pages once read would otherwise stay
    /// resident for as long as the file is open, counting the weights twice in RSS (4.2 GB
    /// for SD 1.5 in fp32). The mapping is private and never written, so a later read just
    /// faults the file's bytes in again.
    private func releasePages(from start: Int, to end: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = start / page * page, last = min(size, (end + page - 1) / page * page)
        guard page > 0, last > first else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: mapping + first), last - first, MADV_DONTNEED)
    }
}
