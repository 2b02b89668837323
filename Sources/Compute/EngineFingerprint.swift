import CDNNL
import CKernels

/// The instruction set oneDNN's kernels run with (its "ISA"), and the cap a user may put on it.
///
/// oneDNN picks its kernels by the best ISA of the CPU, and kernels of different ISAs may round
/// differently, so two machines give the same bits only when they run the same ISA. Capping it
/// (`--max-isa avx2`, or oneDNN's own `ONEDNN_MAX_CPU_ISA`) makes a better CPU compute what a
/// lesser one does. The engine's own C kernels follow the cap: at AVX2 they run their AVX2 code,
/// below it their portable code.
public enum EngineISA {
    /// oneDNN's ISA names, lowest first (its `dnnl_cpu_isa_t` values and `ONEDNN_MAX_CPU_ISA` names).
    static let known: [(name: String, isa: dnnl_cpu_isa_t)] = [
        ("sse41", dnnl_cpu_isa_sse41), ("avx", dnnl_cpu_isa_avx), ("avx2", dnnl_cpu_isa_avx2),
        ("avx2_vnni", dnnl_cpu_isa_avx2_vnni), ("avx2_vnni_2", dnnl_cpu_isa_avx2_vnni_2),
        ("avx512_core", dnnl_cpu_isa_avx512_core), ("avx512_core_vnni", dnnl_cpu_isa_avx512_core_vnni),
        ("avx512_core_bf16", dnnl_cpu_isa_avx512_core_bf16), ("avx512_core_fp16", dnnl_cpu_isa_avx512_core_fp16),
        ("avx512_core_amx", dnnl_cpu_isa_avx512_core_amx), ("avx512_core_amx_fp16", dnnl_cpu_isa_avx512_core_amx_fp16),
    ]

    /// oneDNN's version, e.g. "3.2.0" (asking fixes nothing: the ISA can still be capped).
    public static var libraryVersion: String {
        let v = dnnl_version().pointee
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// The names `--max-isa` accepts.
    public static var names: [String] { known.map(\.name) }

    /// Caps oneDNN's ISA at `name` (one of `names`, any case). Must run before the engine's first
    /// operation: oneDNN fixes its ISA then.
    public static func cap(_ name: String) throws {
        guard let entry = known.first(where: { $0.name == name.lowercased() }) else {
            throw EngineError.unknownISA(name, known: names)
        }
        let status = dnnl_set_max_cpu_isa(entry.isa)
        guard status == dnnl_success else { throw EngineError.isaAlreadyFixed(name) }
        applyToKernels()
    }

    /// The ISA oneDNN's kernels use on this CPU, under any cap.
    static var effective: dnnl_cpu_isa_t { dnnl_get_effective_cpu_isa() }

    /// `effective` by its oneDNN name.
    public static var current: String {
        let isa = effective
        return known.last(where: { $0.isa == isa })?.name ?? "isa-0x\(String(isa.rawValue, radix: 16))"
    }

    /// Whether `effective` includes every feature of `isa` (oneDNN's ISA values are bit sets).
    static func includes(_ isa: dnnl_cpu_isa_t) -> Bool { effective.rawValue & isa.rawValue == isa.rawValue }

    /// True where oneDNN has native bfloat16 kernels: AVX512-BF16 dot products or AMX.
    public static var hasNativeBFloat16: Bool { includes(dnnl_cpu_isa_avx512_core_bf16) }

    /// The C kernels use AVX-512 only when oneDNN does, AVX2 only when oneDNN does (the cap
    /// holds for both).
    static func applyToKernels() {
        sdc_kernels_set_max_level(includes(dnnl_cpu_isa_avx512_core) ? 2 : includes(dnnl_cpu_isa_avx2) ? 1 : 0)
    }

    /// The C kernels' code path: "avx512", "avx2" or "portable".
    static var kernelPath: String {
        applyToKernels()
        switch sdc_kernels_level() {
        case 2: return "avx512"
        case 1: return "avx2"
        default: return "portable"
        }
    }
}

/// What decides an image's exact bits besides the request: the oneDNN version, the ISA its
/// kernels run with, the engine's own kernel path, the precision and the engine's arithmetic
/// revision. Two runs with equal fingerprints give the same bits for the same request, whatever
/// the thread count or batch (docs/engine.md, "Determinism").
public struct EngineFingerprint: Hashable, Sendable, Codable, CustomStringConvertible {
    /// oneDNN's version, e.g. "3.2.0".
    public var oneDNN: String
    /// oneDNN's ISA in use, e.g. "avx2" or "avx512_core_amx".
    public var isa: String
    /// The engine's C kernels: "avx512", "avx2" or "portable".
    public var kernels: String
    /// "fp32" or "bf16".
    public var precision: String
    /// The engine's arithmetic revision (`currentRevision` for this build).
    public var revision: Int

    /// Raised by every change that alters any image's bits under the same oneDNN version, ISA,
    /// kernel path and precision, so workers of two builds never share an engine class (and an
    /// image's work is never mixed between them). 1: up to 2026-12-02 (PNGs without an `r`
    /// part). 2: fused flash attention, batch-N convolutions, folded upsamplers. 3: bf16 linear
    /// tiles of 128 rows or more through oneDNN's dense-output `brg` matmul (bf16 bits only).
    /// 4: upsampler biases added by the engine (oneDNN 3.2's strided deconvolution added wrong
    /// ones from 1024 channels on: SD UNets' first two upsamplers). 5: bf16 linear tiles of whole
    /// rows (bf16 only; on the Xeon it was made on, SD 1.5 UNet outputs kept revision 4's bits
    /// with AMX and with AVX512-BF16 kernels: raised because oneDNN's blocking also follows cache
    /// sizes, so other CPUs were not shown to keep them).
    public static let currentRevision = 5

    public init(oneDNN: String, isa: String, kernels: String, precision: String, revision: Int = EngineFingerprint.currentRevision) {
        self.oneDNN = oneDNN
        self.isa = isa
        self.kernels = kernels
        self.precision = precision
        self.revision = revision
    }

    /// This process's fingerprint at `precision`.
    public static func current(precision: Precision) -> EngineFingerprint {
        return EngineFingerprint(oneDNN: EngineISA.libraryVersion, isa: EngineISA.current,
                                 kernels: EngineISA.kernelPath,
                                 precision: precision.rawValue)
    }

    /// "oneDNN 3.2.0 avx2 avx2 fp32 r2": the form PNG parameters and manifests carry.
    public var description: String { "oneDNN \(oneDNN) \(isa) \(kernels) \(precision) r\(revision)" }

    /// Parses `description`'s form back (nil for anything else); without the `r` part (PNGs of
    /// revision 1) the revision is 1.
    public init?(parsing text: String) {
        let parts = text.split(separator: " ").map(String.init)
        guard parts.count == 5 || parts.count == 6, parts[0] == "oneDNN" else { return nil }
        var revision = 1
        if parts.count == 6 {
            guard parts[5].hasPrefix("r"), let r = Int(parts[5].dropFirst()), r >= 1 else { return nil }
            revision = r
        }
        self.init(oneDNN: parts[1], isa: parts[2], kernels: parts[3], precision: parts[4], revision: revision)
    }
}

/// Errors of the engine's set-up: a cap or a precision this CPU cannot have.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case unknownISA(String, known: [String])
    case isaAlreadyFixed(String)
    case bfloat16Unsupported(isa: String)

    public var description: String {
        switch self {
        case .unknownISA(let name, let known):
            return "unknown ISA '\(name)': use one of \(known.joined(separator: ", "))"
        case .isaAlreadyFixed(let name):
            return "cannot cap the ISA at '\(name)': oneDNN has already chosen its kernels (cap it before any work, or set ONEDNN_MAX_CPU_ISA)"
        case .bfloat16Unsupported(let isa):
            return "--precision bf16 needs a CPU with native bfloat16 (AVX512-BF16 or AMX); this one runs oneDNN's \(isa) kernels, which have none. Use --precision fp32"
        }
    }
}

extension Precision {
    /// Throws when this CPU (under any ISA cap) cannot compute in this precision: bf16 needs
    /// native bfloat16 kernels, which oneDNN lacks on AVX2 and plain AVX-512 CPUs.
    public func checkSupported() throws {
        if self == .bf16 && !EngineISA.hasNativeBFloat16 { throw EngineError.bfloat16Unsupported(isa: EngineISA.current) }
    }
}
