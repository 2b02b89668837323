import CKernels
@testable import Compute
import Foundation
import XCTest

/// The engine fingerprint names what decides an image's bits, and the ISA cap holds for oneDNN
/// and the C kernels alike. `scripts/test.sh` runs these both uncapped and with
/// `ONEDNN_MAX_CPU_ISA=AVX2`; each case below asserts what its situation must give.
final class EngineFingerprintTests: XCTestCase {
    /// The CPU's own flags, read apart from oneDNN.
    private var cpuFlags: Set<String> {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: ":").last!.split(separator: " ").map(String.init))
    }

    func testFingerprintNamesTheLibraryTheISAAndThePrecision() {
        let fp32 = EngineFingerprint.current(precision: .fp32)
        XCTAssertTrue(fp32.oneDNN.hasPrefix("3."), "oneDNN 3 is in use, got \(fp32.oneDNN)")
        XCTAssertEqual(fp32.isa, EngineISA.current)
        XCTAssertTrue(EngineISA.names.contains(fp32.isa), "\(fp32.isa) is one of oneDNN's ISA names")
        XCTAssertEqual(fp32.precision, "fp32")
        XCTAssertEqual(EngineFingerprint.current(precision: .bf16).precision, "bf16")
        XCTAssertEqual(EngineFingerprint(parsing: fp32.description), fp32)
        XCTAssertEqual(fp32.description, "oneDNN \(fp32.oneDNN) \(fp32.isa) \(fp32.kernels) fp32 r\(EngineFingerprint.currentRevision)")
        XCTAssertNil(EngineFingerprint(parsing: "oneDNN 3.2.0 avx2"))
        XCTAssertNil(EngineFingerprint(parsing: "oneDNN 3.2.0 avx2 avx2 fp32 x2"))
        // A PNG of revision 1 (before the revision was recorded) parses as revision 1, another class.
        let old = EngineFingerprint(parsing: "oneDNN 3.2.0 avx2 avx2 fp32")
        XCTAssertEqual(old?.revision, 1)
        XCTAssertNotEqual(old, EngineFingerprint(oneDNN: "3.2.0", isa: "avx2", kernels: "avx2", precision: "fp32"))
    }

    func testISAAndKernelPathFollowTheCPUAndTheCap() {
        let fingerprint = EngineFingerprint.current(precision: .fp32)
        let flags = cpuFlags
        let cap = ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"]?.lowercased()
        if cap == "avx2" {
            XCTAssertTrue(["avx2", "avx", "sse41"].contains(fingerprint.isa), "capped at AVX2, got \(fingerprint.isa)")
            XCTAssertEqual(fingerprint.kernels, flags.contains("avx2") && flags.contains("fma") ? "avx2" : "portable",
                           "the C kernels follow the cap")
            XCTAssertFalse(EngineISA.hasNativeBFloat16, "no native bf16 below AVX-512")
        } else if cap == nil {
            XCTAssertEqual(fingerprint.isa.hasPrefix("avx512"), flags.contains("avx512f") && flags.contains("avx512bw"),
                           "oneDNN uses AVX-512 exactly where the CPU has it (flags say avx512f: \(flags.contains("avx512f")))")
            let expected = flags.contains("avx512f") && fingerprint.isa.hasPrefix("avx512") ? "avx512"
                : flags.contains("avx2") && flags.contains("fma") ? "avx2" : "portable"
            XCTAssertEqual(fingerprint.kernels, expected, "the C kernels take the CPU's best path")
            XCTAssertEqual(EngineISA.hasNativeBFloat16, flags.contains("avx512_bf16") || flags.contains("amx_bf16"),
                           "native bf16 exactly where the CPU has AVX512-BF16 or AMX")
        }
        XCTAssertEqual(Int(sdc_kernels_level()), ["portable": 0, "avx2": 1, "avx512": 2][fingerprint.kernels])
    }

    func testUnknownOrLateISACapsAreRefused() {
        XCTAssertThrowsError(try EngineISA.cap("avx9000")) { error in
            XCTAssertEqual(error as? EngineError, .unknownISA("avx9000", known: EngineISA.names))
        }
        _ = EngineISA.current  // oneDNN fixes its ISA at the first use
        XCTAssertThrowsError(try EngineISA.cap("sse41")) { error in
            XCTAssertEqual(error as? EngineError, .isaAlreadyFixed("sse41"))
        }
        XCTAssertNotEqual(EngineISA.current, "sse41")
    }
}
