import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// Values stored as F32, F16 and BF16 come back as the exact float32 the format defines.
final class SafeTensorsDecodingTests: XCTestCase {
    /// IEEE 754 binary16, evaluated from its definition in Double (independent of the bit-shuffling
    /// decoder): normal (-1)^s 2^(e-15) (1 + m/1024), subnormal (-1)^s 2^-14 (m/1024).
    private func halfByDefinition(_ bits: UInt16) -> Double {
        let sign: Double = bits & 0x8000 != 0 ? -1 : 1
        let e = Int((bits >> 10) & 0x1F), m = Double(bits & 0x3FF)
        if e == 0x1F { return m == 0 ? sign * .infinity : .nan }
        if e == 0 { return sign * m / 1024 * pow(2, -14) }
        return sign * (1 + m / 1024) * pow(2, Double(e - 15))
    }

    /// Pads a header with spaces so the data section starts 8-byte aligned, making offset 1 odd.
    private func aligned(_ header: String) -> String {
        header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
    }

    private func roundTrip(_ bytes: Data, dtype: String, count: Int) throws -> Tensor {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        writer.addRaw("t", dtypeName: dtype, shape: [count], bytes: bytes)
        let path = try folder.write(writer, to: "t.safetensors")
        return try SafeTensorsFile(path: path).tensor("t")
    }

    func testEveryF16BitPatternDecodesToItsExactValue() throws {
        var bytes = Data()
        for bits in 0...UInt16.max { bytes.appendLittleEndian(bits) }
        let tensor = try roundTrip(bytes, dtype: "F16", count: 65536)
        for bits in 0...UInt16.max {
            let got = tensor.pointer[Int(bits)]
            let want = halfByDefinition(bits)
            if want.isNaN {
                XCTAssertTrue(got.isNaN, "bits \(bits)")
                // Sign and payload kept, as numpy's npy_halfbits_to_floatbits does.
                let expected = UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | UInt32(bits & 0x3FF) << 13
                XCTAssertEqual(got.bitPattern, expected, "NaN bits \(bits)")
            } else {
                XCTAssertEqual(Double(got), want, "bits \(bits)")
                XCTAssertEqual(got.sign == .minus, bits & 0x8000 != 0, "sign of bits \(bits)")
            }
        }
    }

    func testF16SpecialValuesDecode() throws {
        var bytes = Data()
        // 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 - 2^-24 (largest subnormal), +inf, -inf, -0.
        for bits: UInt16 in [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x8000] { bytes.appendLittleEndian(bits) }
        let v = try roundTrip(bytes, dtype: "F16", count: 8).values
        XCTAssertEqual(v[0], 1)
        XCTAssertEqual(v[1], -2)
        XCTAssertEqual(v[2], 65504)
        XCTAssertEqual(v[3], 0x1p-24)
        XCTAssertEqual(v[4], 0x1p-14 - 0x1p-24)
        XCTAssertEqual(v[5], .infinity)
        XCTAssertEqual(v[6], -.infinity)
        XCTAssertEqual(v[7].bitPattern, (-Float(0)).bitPattern)
    }

    func testEveryBF16BitPatternIsTheTopHalfOfAFloat32() throws {
        var bytes = Data()
        for bits in 0...UInt16.max { bytes.appendLittleEndian(bits) }
        let tensor = try roundTrip(bytes, dtype: "BF16", count: 65536)
        for bits in 0...UInt16.max {
            XCTAssertEqual(tensor.pointer[Int(bits)].bitPattern, UInt32(bits) << 16, "bits \(bits)")
        }
    }

    func testBF16KnownValuesDecode() throws {
        var bytes = Data()
        for bits: UInt16 in [0x3F80, 0xC000, 0x7F80, 0x0001, 0x3E80] { bytes.appendLittleEndian(bits) }
        let v = try roundTrip(bytes, dtype: "BF16", count: 5).values
        XCTAssertEqual(v, [1, -2, .infinity, 0x1p-133, 0.25])
    }

    func testF32BitPatternsSurviveExactly() throws {
        let patterns: [UInt32] = [0x3F80_0000, 0x8000_0000, 0x0000_0001, 0x007F_FFFF, 0x7F80_0000,
                                  0xFF80_0000, 0x7FC0_0001, 0xFFA0_0000, 0x4049_0FDB]
        var bytes = Data()
        for p in patterns { bytes.appendLittleEndian(p) }
        let v = try roundTrip(bytes, dtype: "F32", count: patterns.count).values
        XCTAssertEqual(v.map(\.bitPattern), patterns)
    }

    func testShapesAndNamesComeFromTheHeader() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        writer.add("a.weight", shape: [2, 3], values: testValues(6, seed: 1))
        writer.add("b.bias", shape: [4], values: testValues(4, seed: 2), as: .f16)
        writer.add("scalar", shape: [], values: [5])
        writer.metadata = ["format": "pt"]
        let file = try SafeTensorsFile(path: folder.write(writer, to: "m.safetensors"))
        XCTAssertEqual(file.names, ["a.weight", "b.bias", "scalar"])
        XCTAssertEqual(file.shape(of: "a.weight"), [2, 3])
        XCTAssertEqual(file.shape(of: "b.bias"), [4])
        XCTAssertEqual(file.shape(of: "scalar"), [])
        XCTAssertNil(file.shape(of: "absent"))
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(try file.tensor("a.weight").shape, [2, 3])
        XCTAssertEqual(try file.tensor("a.weight").values, testValues(6, seed: 1))
        XCTAssertEqual(try file.tensor("scalar").values, [5])
    }

    func testUnalignedTensorDataDecodes() throws {
        // One byte of U8 data first pushes the F32 tensor to an odd offset.
        var f32 = Data()
        for v: Float in [1.5, -3.25, 0x1p-130] { f32.appendLittleEndian(v.bitPattern) }
        let header = #"{"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"F32","shape":[3],"data_offsets":[1,13]}}"#
        let folder = try TemporaryFolder()
        let path = try folder.write(rawSafeTensors(header: aligned(header), body: Data([7]) + f32), to: "u.safetensors")
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("x").values, [1.5, -3.25, 0x1p-130])
    }

    func testUnalignedHalfPrecisionDataDecodes() throws {
        var halves = Data([0])
        for bits: UInt16 in [0x3C00, 0x8001, 0x7C00] { halves.appendLittleEndian(bits) }
        let header = #"{"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"h":{"dtype":"F16","shape":[3],"data_offsets":[1,7]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[1,7]}}"#
        let folder = try TemporaryFolder()
        let file = try SafeTensorsFile(path: folder.write(rawSafeTensors(header: aligned(header), body: halves), to: "h.safetensors"))
        XCTAssertEqual(try file.tensor("h").values, [1, -0x1p-24, .infinity])
        XCTAssertEqual(try file.tensor("b").values.map(\.bitPattern), [0x3C00_0000, 0x8001_0000, 0x7C00_0000])
    }

    func testWriterStoresF16AndBF16RoundedToNearestEven() throws {
        let values: [Float] = [1 + 0x1p-11, 1 + 0x1p-8 + 0x1p-20, -0.1, 70000, .nan]
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        writer.add("h", shape: [5], values: values, as: .f16)
        writer.add("b", shape: [5], values: values, as: .bf16)
        let file = try SafeTensorsFile(path: folder.write(writer, to: "w.safetensors"))
        let h = try file.tensor("h").values, b = try file.tensor("b").values
        // Halfway 1 + 2^-11 rounds to even (1); 1 + 2^-8 + 2^-20 rounds up in bf16 (above half).
        XCTAssertEqual(h[0], 1)
        XCTAssertEqual(b[1], 1 + 0x1p-7)
        XCTAssertEqual(h[2], Float(Float16(-0.1)))
        XCTAssertEqual(h[3], .infinity)
        XCTAssertTrue(h[4].isNaN && b[4].isNaN)
    }
}
