import Foundation
import CDNNL

/// A oneDNN call failed (or returned nothing where it must return something): names the call
/// (with the operation and shapes it was for) and oneDNN's status. Thrown by every engine
/// operation that calls oneDNN; the engine stays usable afterwards.
public struct DNNLError: Error, CustomStringConvertible {
    public let call: String
    public let status: dnnl_status_t
    public var description: String { "oneDNN \(call) failed with status \(status.rawValue) (\(DNNLError.statusName(status)))" }

    static func statusName(_ s: dnnl_status_t) -> String {
        switch s {
        case dnnl_out_of_memory: return "out of memory"
        case dnnl_invalid_arguments: return "invalid arguments"
        case dnnl_unimplemented: return "unimplemented"
        case dnnl_last_impl_reached: return "no implementation"
        case dnnl_runtime_error: return "runtime error"
        case dnnl_not_required: return "not required"
        default: return "status \(s.rawValue)"
        }
    }
}

/// Throws a `DNNLError` naming `call` unless `status` is success.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    if status != dnnl_success { throw DNNLError(call: call(), status: status) }
}

/// An allocation the engine could not make (posix_memalign failed).
public struct AllocationError: Error, CustomStringConvertible {
    public let bytes: Int
    public var description: String { "out of memory allocating \(bytes) bytes" }
}

/// The one CPU engine and stream every primitive runs on.
final class DNNLContext: @unchecked Sendable {
    private static let created = Result<DNNLContext, Error> { try DNNLContext() }
    /// The context, made on first use; a failure to make it is thrown on every use.
    static var shared: DNNLContext { get throws { try created.get() } }
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    private init() throws {
        // Keep freed activation buffers in the heap instead of returning them to the kernel:
        // every evaluation allocates the same sizes again, and fresh pages cost a page fault each.
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // glibc's largest allowed value
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        // The C kernels follow oneDNN's ISA, capped by ONEDNN_MAX_CPU_ISA or `EngineISA.cap`.
        EngineISA.applyToKernels()
        var e: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&e, dnnl_cpu, 0), "engine_create")
        engine = e!
        var s: dnnl_stream_t?
        try dnnlCheck(dnnl_stream_create(&s, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream_create")
        stream = s!
    }
}

/// oneDNN argument indices (C macros Swift does not import).
enum DNNLArg {
    static let src: Int32 = 1
    static let src1: Int32 = 2
    static let dst: Int32 = 17
    static let weights: Int32 = 33
    static let bias: Int32 = 41
    static let scratchpad: Int32 = 80
}

/// A oneDNN memory descriptor (an opaque handle in oneDNN 3), destroyed with its owner.
final class MemoryDesc: @unchecked Sendable {
    let handle: dnnl_memory_desc_t

    private init(handle: dnnl_memory_desc_t) { self.handle = handle }
    deinit { dnnl_memory_desc_destroy(handle) }

    static func dims(_ d: [Int]) -> [Int64] {
        var out = [Int64](repeating: 0, count: 12)
        for (i, v) in d.enumerated() { out[i] = Int64(v) }
        return out
    }

    static func tagged(_ d: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) throws -> MemoryDesc {
        guard d.count <= 12 else { throw DNNLError(call: "memory_desc_create_with_tag \(d) (more than 12 dimensions)", status: dnnl_invalid_arguments) }
        var md: dnnl_memory_desc_t?
        try dnnlCheck(dnnl_memory_desc_create_with_tag(&md, Int32(d.count), dims(d), type, tag), "memory_desc_create_with_tag \(d)")
        guard let md else { throw DNNLError(call: "memory_desc_create_with_tag \(d) returned no descriptor", status: dnnl_runtime_error) }
        return MemoryDesc(handle: md)
    }

    static func strided(_ d: [Int], strides: [Int], _ type: dnnl_data_type_t = dnnl_f32) throws -> MemoryDesc {
        guard d.count <= 12, strides.count <= 12 else {
            throw DNNLError(call: "memory_desc_create_with_strides \(d) \(strides) (more than 12 dimensions)", status: dnnl_invalid_arguments)
        }
        var md: dnnl_memory_desc_t?
        try dnnlCheck(dnnl_memory_desc_create_with_strides(&md, Int32(d.count), dims(d), type, dims(strides)),
                      "memory_desc_create_with_strides \(d) \(strides)")
        guard let md else { throw DNNLError(call: "memory_desc_create_with_strides \(d) returned no descriptor", status: dnnl_runtime_error) }
        return MemoryDesc(handle: md)
    }

    /// An owned copy of a descriptor that belongs to someone else (a primitive descriptor's query).
    /// `what` names the query in the error when oneDNN returns none.
    static func copy(of other: const_dnnl_memory_desc_t?, _ what: @autoclosure () -> String = "query") throws -> MemoryDesc {
        guard let other else { throw DNNLError(call: "primitive_desc_query_md (\(what())) returned no descriptor", status: dnnl_invalid_arguments) }
        var md: dnnl_memory_desc_t?
        try dnnlCheck(dnnl_memory_desc_clone(&md, other), "memory_desc_clone")
        guard let md else { throw DNNLError(call: "memory_desc_clone returned no descriptor", status: dnnl_runtime_error) }
        return MemoryDesc(handle: md)
    }

    func equals(_ other: MemoryDesc) -> Bool { dnnl_memory_desc_equal(handle, other.handle) != 0 }

    var size: Int { dnnl_memory_desc_get_size(handle) }
}

/// A primitive plus the memory descriptors it was created for; executes on raw pointers.
///
/// Every primitive is made with a user-managed scratchpad and runs with memory objects of its
/// call only, so several threads may run the same primitive at once (oneDNN's rule for
/// concurrent execution): the samples of a batch run side by side on lanes that share the threads
/// (`Threads.forEachSample`) through the same layers.
final class Primitive: @unchecked Sendable {
    let primitive: dnnl_primitive_t
    let descriptor: dnnl_primitive_desc_t
    let implementation: String
    /// The scratchpad each execution needs (size 0 for none).
    let scratchpadMD: MemoryDesc
    /// Run on the calling thread alone: the work is too small to pay for waking others
    /// (see `Threads.minimumWorkPerThread`).
    var serial = false

    /// Takes ownership of `descriptor` (destroyed here also when creation fails). `name`
    /// says in errors what the primitive is for.
    init(descriptor: dnnl_primitive_desc_t, name: String) throws {
        var p: dnnl_primitive_t?
        let status = dnnl_primitive_create(&p, descriptor)
        guard status == dnnl_success, let p else {
            dnnl_primitive_desc_destroy(descriptor)
            throw DNNLError(call: "primitive_create (\(name))", status: status == dnnl_success ? dnnl_runtime_error : status)
        }
        var info: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &info)
        let scratchpad: MemoryDesc
        do {
            scratchpad = try MemoryDesc.copy(of: dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0), "scratchpad of \(name)")
        } catch {
            dnnl_primitive_destroy(p)
            dnnl_primitive_desc_destroy(descriptor)
            throw error
        }
        self.descriptor = descriptor
        primitive = p
        implementation = info.map { String(cString: $0) } ?? "?"
        scratchpadMD = scratchpad
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func queryMD(_ what: dnnl_query_t, _ index: Int32 = 0) throws -> MemoryDesc {
        try MemoryDesc.copy(of: dnnl_primitive_desc_query_md(descriptor, what, index), "query \(what.rawValue) of \(implementation)")
    }

    /// Runs the primitive on the calling thread's threads (alone when `serial`); `args` maps
    /// argument ids to (descriptor, buffer). The scratchpad is borrowed from `ScratchPool`.
    func execute(_ args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)]) throws {
        let threads = serial ? omp_get_max_threads() : 1
        if threads > 1 { omp_set_num_threads(1) }
        defer { if threads > 1 { omp_set_num_threads(threads) } }
        let bytes = scratchpadBytes
        if bytes == 0 { return try run(args, scratchpad: nil) }
        try ScratchPool.shared.withBuffer(bytes: bytes) { try run(args, scratchpad: $0) }
    }

    /// Bytes of scratchpad one execution needs.
    var scratchpadBytes: Int { scratchpadMD.size }

    /// Runs the primitive on the calling thread alone with the caller's scratchpad: how the
    /// threads of a parallel loop each run their share of items (for primitives made
    /// `forOneThread`: the scratchpad they report is what one thread doing all the work needs).
    /// Outside a parallel region too it runs on one thread, so its arithmetic is the same in
    /// either case. Throws on failure.
    func executeConcurrently(_ args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)], scratchpad: UnsafeMutableRawPointer) throws {
        let threads = omp_in_parallel() == 0 ? omp_get_max_threads() : 1
        if threads > 1 { omp_set_num_threads(1) }
        defer { if threads > 1 { omp_set_num_threads(threads) } }
        try run(args, scratchpad: scratchpad)
    }

    /// Executes with memory objects made for this call (destroyed either way) and waits.
    private func run(_ args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)], scratchpad: UnsafeMutableRawPointer?) throws {
        let context = try DNNLContext.shared
        var mems: [dnnl_memory_t] = []
        mems.reserveCapacity(args.count + 1)
        defer { for m in mems { dnnl_memory_destroy(m) } }
        var execArgs: [dnnl_exec_arg_t] = []
        execArgs.reserveCapacity(args.count + 1)
        func add(_ arg: Int32, _ md: MemoryDesc, _ ptr: UnsafeMutableRawPointer) throws {
            var m: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&m, md.handle, context.engine, ptr), "memory_create")
            guard let m else { throw DNNLError(call: "memory_create returned no memory", status: dnnl_runtime_error) }
            mems.append(m)
            execArgs.append(dnnl_exec_arg_t(arg: arg, memory: m))
        }
        for (arg, md, ptr) in args { try add(arg, md, ptr) }
        if let scratchpad, scratchpadMD.size > 0 { try add(DNNLArg.scratchpad, scratchpadMD, scratchpad) }
        try dnnlCheck(dnnl_primitive_execute(primitive, context.stream, Int32(execArgs.count), execArgs), "primitive_execute (\(implementation))")
        try dnnlCheck(dnnl_stream_wait(context.stream), "stream_wait")
    }

    /// Creates a primitive: `create` makes the primitive descriptor (oneDNN 3 has one creation
    /// function per primitive kind) with the attributes built here from `postOps` and a
    /// user-managed scratchpad. It is made for the calling thread's thread count (one on a
    /// sample lane), or for one thread with `forOneThread`.
    static func make(postOps: PostOps = PostOps(), forOneThread: Bool = false, name: String,
                     _ create: (UnsafeMutablePointer<dnnl_primitive_desc_t?>, dnnl_engine_t, dnnl_primitive_attr_t?) -> dnnl_status_t) throws -> Primitive {
        let context = try DNNLContext.shared
        // oneDNN fixes a primitive's thread count when the descriptor is made (its
        // `dnnl_get_max_threads()` then) and sizes the scratchpad for that many threads' shares of
        // the work; inside a parallel region the same primitive runs all its work on one thread.
        // 3.2's `gemm:jit:bf16` matmul made for 2 threads books two accumulators of half the
        // rows each, rounded down (38 of 77 rows) and then writes all 77 rows into the first: a
        // heap overflow. Primitives that only ever run on one thread are made for one thread.
        let threadsOutside = omp_get_max_threads()
        if forOneThread && threadsOutside > 1 { omp_set_num_threads(1) }
        defer { if forOneThread && threadsOutside > 1 { omp_set_num_threads(threadsOutside) } }
        var attr: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        if !postOps.isEmpty {
            var ops: dnnl_post_ops_t?
            try dnnlCheck(dnnl_post_ops_create(&ops), "post_ops_create")
            defer { dnnl_post_ops_destroy(ops) }
            for op in postOps.ops {
                switch op {
                case .sum: try dnnlCheck(dnnl_post_ops_append_sum(ops, 1, 0, dnnl_data_type_undef), "post_ops_append_sum")
                case .eltwise(let alg, let alpha):
                    try dnnlCheck(dnnl_post_ops_append_eltwise(ops, alg, alpha, 0), "post_ops_append_eltwise")
                }
            }
            try dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops")
        }
        var pd: dnnl_primitive_desc_t?
        let status = create(&pd, context.engine, attr)
        guard status == dnnl_success, let pd else {
            if let pd { dnnl_primitive_desc_destroy(pd) }
            throw DNNLError(call: "primitive_desc_create (\(name))", status: status == dnnl_success ? dnnl_runtime_error : status)
        }
        return try Primitive(descriptor: pd, name: name)
    }
}

/// Post-operations fused into a convolution or matmul.
struct PostOps: Hashable {
    enum Op: Hashable {
        /// dst = op(...) + dst (a residual add: fill dst with the residual first).
        case sum
        case eltwise(dnnl_alg_kind_t, Float)
    }
    var ops: [Op] = []
    var isEmpty: Bool { ops.isEmpty }
}

extension dnnl_alg_kind_t: @retroactive Hashable {
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

/// Reorders `src` (described by `from`) into a new buffer laid out as `to`.
func reorder(_ src: UnsafeMutableRawPointer, from: MemoryDesc, to: MemoryDesc) throws -> AlignedBuffer {
    var pd: dnnl_primitive_desc_t?
    let engine = try DNNLContext.shared.engine
    let status = dnnl_reorder_primitive_desc_create(&pd, from.handle, engine, to.handle, engine, nil)
    guard status == dnnl_success, let pd else {
        if let pd { dnnl_primitive_desc_destroy(pd) }
        throw DNNLError(call: "reorder_primitive_desc_create", status: status == dnnl_success ? dnnl_runtime_error : status)
    }
    let prim = try Primitive(descriptor: pd, name: "reorder")
    let out = try AlignedBuffer(bytes: to.size)
    try prim.execute([(DNNLArg.src, from, src), (DNNLArg.dst, to, out.raw)])
    return out
}

/// Raw 64-byte-aligned bytes owned by oneDNN-facing code (pre-packed weights).
final class AlignedBuffer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    let bytes: Int
    /// Throws `AllocationError` when the memory cannot be had.
    init(bytes: Int) throws {
        var p: UnsafeMutableRawPointer?
        guard bytes >= 0, bytes <= Int.max - 63, posix_memalign(&p, 64, max(64, (bytes + 63) & ~63)) == 0, let p else {
            throw AllocationError(bytes: bytes)
        }
        self.bytes = bytes
        raw = p
    }
    deinit { free(raw) }
}
