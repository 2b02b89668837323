import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// Reading a tensor gives the mapping's pages back: a loaded model holds its weights once (its
/// layers' copies), not a second time as resident pages of the open files.
final class SafeTensorsPageReleaseTests: XCTestCase {
    /// This process's resident file-backed memory (`RssFile` of /proc/self/status), in bytes.
    private func residentFileBytes() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RssFile:") }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "no RssFile line in /proc/self/status (Linux 4.5 or later has it)"])
        }
        return kib * 1024
    }

    func testReadingTensorsLeavesNoneOfTheirPagesResident() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        let count = 4 << 20  // 16 MiB of F32 per tensor, 48 MiB in all
        let values = (0..<3).map { testValues(count, seed: UInt64($0 + 1)) }
        for (i, v) in values.enumerated() { writer.add("t\(i)", shape: [count], values: v) }
        let file = try SafeTensorsFile(path: folder.write(writer, to: "big.safetensors"))
        let before = try residentFileBytes()
        var tensors: [Tensor] = []
        for i in 0..<3 { tensors.append(try file.tensor("t\(i)")) }
        let grown = try residentFileBytes() - before
        XCTAssertLessThan(grown, 8 << 20, "reading 48 MiB of tensors left \(grown >> 20) MiB of the file resident")
        for i in 0..<3 { XCTAssertEqual(tensors[i].values, values[i], "t\(i)") }
    }

    func testTensorsReadAgainAfterTheirPagesWereReleasedAreUnchanged() throws {
        let folder = try TemporaryFolder()
        var writer = SafeTensorsWriter()
        // Small tensors that share pages with each other and with the header, in several dtypes.
        writer.add("a", shape: [3000], values: testValues(3000, seed: 1))
        writer.add("b", shape: [5], values: testValues(5, seed: 2), as: .f16)
        writer.add("c", shape: [2000], values: testValues(2000, seed: 3), as: .bf16)
        writer.add("d", shape: [7], values: testValues(7, seed: 4))
        let file = try SafeTensorsFile(path: folder.write(writer, to: "m.safetensors"))
        let header = file.headerBytes
        let first = try ["a", "b", "c", "d"].map { try file.tensor($0).values }
        let again = try ["d", "c", "b", "a"].map { try file.tensor($0).values }
        XCTAssertEqual(first, Array(again.reversed()))
        XCTAssertEqual(first[0], testValues(3000, seed: 1))
        XCTAssertEqual(file.headerBytes, header)
    }
}
