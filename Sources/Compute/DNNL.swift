import Foundation
import CDNNL

/// A oneDNN call failed: names the call and oneDNN's status.
public struct DNNLError: Error, CustomStringConvertible {
    public let call: String
    public let status: dnnl_status_t
    public var description: String { "oneDNN \(call) failed with status \(status.rawValue)" }
}

@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) {
    if status != dnnl_success { fatalError(DNNLError(call: call(), status: status).description) }
}

/// The one CPU engine and stream every primitive runs on.
final class DNNLContext: @unchecked Sendable {
    static let shared = DNNLContext()
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    private init() {
        // Keep freed activation buffers in the heap instead of returning them to the kernel:
        // every evaluation allocates the same sizes again, and fresh pages cost a page fault each.
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // glibc's largest allowed value
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        // The C kernels follow oneDNN's ISA, capped by ONEDNN_MAX_CPU_ISA or `EngineISA.cap`.
        EngineISA.applyToKernels()
        var e: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&e, dnnl_cpu, 0), "engine_create")
        engine = e!
        var s: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&s, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream_create")
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

    static func tagged(_ d: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) -> MemoryDesc {
        var md: dnnl_memory_desc_t?
        dnnlCheck(dnnl_memory_desc_create_with_tag(&md, Int32(d.count), dims(d), type, tag), "memory_desc_create_with_tag \(d)")
        return MemoryDesc(handle: md!)
    }

    static func strided(_ d: [Int], strides: [Int], _ type: dnnl_data_type_t = dnnl_f32) -> MemoryDesc {
        var md: dnnl_memory_desc_t?
        dnnlCheck(dnnl_memory_desc_create_with_strides(&md, Int32(d.count), dims(d), type, dims(strides)),
                  "memory_desc_create_with_strides \(d) \(strides)")
        return MemoryDesc(handle: md!)
    }

    /// An owned copy of a descriptor that belongs to someone else (a primitive descriptor's query).
    static func copy(of other: const_dnnl_memory_desc_t?) -> MemoryDesc {
        guard let other else { fatalError("oneDNN returned no memory descriptor for a query") }
        var md: dnnl_memory_desc_t?
        dnnlCheck(dnnl_memory_desc_clone(&md, other), "memory_desc_clone")
        return MemoryDesc(handle: md!)
    }

    func equals(_ other: MemoryDesc) -> Bool { dnnl_memory_desc_equal(handle, other.handle) != 0 }

    var size: Int { dnnl_memory_desc_get_size(handle) }
}

/// A primitive plus the memory descriptors it was created for; executes on raw pointers.
final class Primitive: @unchecked Sendable {
    let primitive: dnnl_primitive_t
    let descriptor: dnnl_primitive_desc_t
    /// Memory objects are created once per primitive and re-pointed at each call's buffers.
    private var memories: [Int32: dnnl_memory_t] = [:]
    let implementation: String
    /// The scratchpad the caller passes to `executeConcurrently` (empty unless `userScratchpad`).
    let scratchpadMD: MemoryDesc
    /// Run on the calling thread alone: the work is too small to pay for waking others
    /// (see `Threads.minimumWorkPerThread`).
    var serial = false

    init(descriptor: dnnl_primitive_desc_t) {
        self.descriptor = descriptor
        var p: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&p, descriptor), "primitive_create")
        primitive = p!
        var info: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &info)
        implementation = info.map { String(cString: $0) } ?? "?"
        scratchpadMD = MemoryDesc.copy(of: dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0))
    }

    deinit {
        for m in memories.values { dnnl_memory_destroy(m) }
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func queryMD(_ what: dnnl_query_t, _ index: Int32 = 0) -> MemoryDesc {
        MemoryDesc.copy(of: dnnl_primitive_desc_query_md(descriptor, what, index))
    }

    /// Runs the primitive; `args` maps argument ids to (descriptor, buffer).
    func execute(_ args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)]) {
        var execArgs = [dnnl_exec_arg_t]()
        execArgs.reserveCapacity(args.count)
        for (arg, md, ptr) in args {
            let mem: dnnl_memory_t
            if let existing = memories[arg] {
                mem = existing
                dnnlCheck(dnnl_memory_set_data_handle(mem, ptr), "memory_set_data_handle")
            } else {
                var m: dnnl_memory_t?
                dnnlCheck(dnnl_memory_create(&m, md.handle, DNNLContext.shared.engine, ptr), "memory_create")
                mem = m!
                memories[arg] = mem
            }
            execArgs.append(dnnl_exec_arg_t(arg: arg, memory: mem))
        }
        let threads = serial ? omp_get_max_threads() : 1
        if threads > 1 { omp_set_num_threads(1) }
        dnnlCheck(dnnl_primitive_execute(primitive, DNNLContext.shared.stream, Int32(execArgs.count), execArgs), "primitive_execute")
        dnnlCheck(dnnl_stream_wait(DNNLContext.shared.stream), "stream_wait")
        if threads > 1 { omp_set_num_threads(threads) }
    }

    /// Bytes of scratchpad the caller must pass (`userScratchpad` primitives only).
    var scratchpadBytes: Int { scratchpadMD.size }

    /// Runs the primitive on the calling thread alone, with memory objects of this call only and
    /// the caller's scratchpad, so that several threads can run it at once (oneDNN's rule for
    /// concurrent execution). For primitives made with `userScratchpad`. Outside a parallel
    /// region too it runs on one thread, so its arithmetic is the same in either case.
    func executeConcurrently(_ args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)], scratchpad: UnsafeMutableRawPointer) {
        let threads = omp_in_parallel() == 0 ? omp_get_max_threads() : 1
        if threads > 1 { omp_set_num_threads(1) }
        defer { if threads > 1 { omp_set_num_threads(threads) } }
        var mems: [dnnl_memory_t] = []
        var execArgs: [dnnl_exec_arg_t] = []
        let all = scratchpadMD.size > 0 ? args + [(DNNLArg.scratchpad, scratchpadMD, scratchpad)] : args
        for (arg, md, ptr) in all {
            var m: dnnl_memory_t?
            dnnlCheck(dnnl_memory_create(&m, md.handle, DNNLContext.shared.engine, ptr), "memory_create")
            mems.append(m!)
            execArgs.append(dnnl_exec_arg_t(arg: arg, memory: m!))
        }
        dnnlCheck(dnnl_primitive_execute(primitive, DNNLContext.shared.stream, Int32(execArgs.count), execArgs), "primitive_execute")
        for m in mems { dnnl_memory_destroy(m) }
    }

    /// Creates a primitive: `create` makes the primitive descriptor (oneDNN 3 has one creation
    /// function per primitive kind) with the attributes built here from `postOps`. With
    /// `userScratchpad` the caller provides the scratchpad memory at each execution.
    static func make(postOps: PostOps = PostOps(), userScratchpad: Bool = false, name: String,
                     _ create: (UnsafeMutablePointer<dnnl_primitive_desc_t?>, dnnl_engine_t, dnnl_primitive_attr_t?) -> dnnl_status_t) -> Primitive {
        var attr: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        if userScratchpad { dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode") }
        if !postOps.isEmpty {
            var ops: dnnl_post_ops_t?
            dnnlCheck(dnnl_post_ops_create(&ops), "post_ops_create")
            defer { dnnl_post_ops_destroy(ops) }
            for op in postOps.ops {
                switch op {
                case .sum: dnnlCheck(dnnl_post_ops_append_sum(ops, 1, 0, dnnl_data_type_undef), "post_ops_append_sum")
                case .eltwise(let alg, let alpha):
                    dnnlCheck(dnnl_post_ops_append_eltwise(ops, alg, alpha, 0), "post_ops_append_eltwise")
                }
            }
            dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops")
        }
        var pd: dnnl_primitive_desc_t?
        dnnlCheck(create(&pd, DNNLContext.shared.engine, attr), "primitive_desc_create (\(name))")
        return Primitive(descriptor: pd!)
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
func reorder(_ src: UnsafeMutableRawPointer, from: MemoryDesc, to: MemoryDesc) -> AlignedBuffer {
    var pd: dnnl_primitive_desc_t?
    let engine = DNNLContext.shared.engine
    dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, from.handle, engine, to.handle, engine, nil), "reorder_primitive_desc_create")
    let prim = Primitive(descriptor: pd!)
    let out = AlignedBuffer(bytes: to.size)
    prim.execute([(DNNLArg.src, from, src), (DNNLArg.dst, to, out.raw)])
    return out
}

/// Raw 64-byte-aligned bytes owned by oneDNN-facing code (pre-packed weights).
final class AlignedBuffer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    let bytes: Int
    init(bytes: Int) {
        self.bytes = bytes
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, 64, max(64, (bytes + 63) & ~63)) == 0, let p else { fatalError("out of memory") }
        raw = p
    }
    deinit { free(raw) }
}
