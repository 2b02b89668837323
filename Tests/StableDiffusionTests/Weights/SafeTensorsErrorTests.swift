import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// Damaged or foreign files are refused with messages that name the file, the key and a remedy.
final class SafeTensorsErrorTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws { folder = try TemporaryFolder() }
    override func tearDown() { folder = nil }

    private func open(_ data: Data, name: String = "bad.safetensors") throws -> SafeTensorsFile {
        try SafeTensorsFile(path: folder.write(data, to: name))
    }

    func testFileShorterThanTheLengthFieldIsTruncated() throws {
        assertWeightError(["bad.safetensors", "truncated", "8-byte"]) { _ = try open(Data([1, 2, 3])) }
        assertWeightError(["truncated"]) { _ = try open(Data()) }
    }

    func testHeaderLengthPastTheEndIsTruncated() throws {
        let data = rawSafeTensors(header: "{}", claimedLength: 500)
        assertWeightError(["bad.safetensors", "truncated", "500"]) { _ = try open(data) }
    }

    func testImplausiblyLargeHeaderLengthIsRefused() throws {
        let data = rawSafeTensors(header: "{}", claimedLength: UInt64.max)
        assertWeightError(["bad.safetensors", "implausibly large"]) { _ = try open(data) }
    }

    func testHeaderThatIsNotJSONIsRefused() throws {
        assertWeightError(["bad.safetensors", "not JSON"]) { _ = try open(rawSafeTensors(header: "<html>404</html>")) }
    }

    func testHeaderThatIsAJSONArrayIsRefused() throws {
        assertWeightError(["not an object"]) { _ = try open(rawSafeTensors(header: "[1,2]")) }
    }

    func testEntryWithoutOffsetsIsRefused() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1]}}"#
        assertWeightError(["'w'", "data_offsets"]) { _ = try open(rawSafeTensors(header: header, body: Data(count: 4))) }
    }

    func testOffsetsPastTheDataSectionAreRefused() throws {
        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        assertWeightError(["bad.safetensors", "'w'", "past the data section"]) {
            _ = try open(rawSafeTensors(header: header, body: Data(count: 8)))
        }
    }

    func testReversedOffsetsAreRefused() throws {
        let header = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        assertWeightError(["'w'", "begin 8 > end 4"]) { _ = try open(rawSafeTensors(header: header, body: Data(count: 8))) }
    }

    func testByteCountDisagreeingWithShapeIsRefused() throws {
        let header = #"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#
        assertWeightError(["'w'", "8 bytes for shape [3] of F16"]) {
            _ = try open(rawSafeTensors(header: header, body: Data(count: 8)))
        }
    }

    func testNegativeShapeIsRefused() throws {
        let header = #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#
        assertWeightError(["'w'", "shape"]) { _ = try open(rawSafeTensors(header: header)) }
    }

    func testUnknownDTypeIsRefusedWhenRequestedButDoesNotSpoilTheFile() throws {
        let header = #"{"odd":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,3]},"ok":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        var body = Data(count: 8)
        body.appendLittleEndian(Float(2.5).bitPattern)
        let file = try open(rawSafeTensors(header: header, body: body))
        XCTAssertEqual(try file.tensor("ok").values, [2.5])
        assertWeightError(["bad.safetensors", "'odd'", "Q4_K", "F32, F16 and BF16"]) { _ = try file.tensor("odd") }
    }

    func testIntegerTensorIsReadableAsHeaderButNotAsFloats() throws {
        var writer = SafeTensorsWriter()
        writer.addRaw("position_ids", dtypeName: "I64", shape: [1, 2], bytes: Data(count: 16))
        let file = try open(writer.serialized())
        XCTAssertEqual(file.shape(of: "position_ids"), [1, 2])
        assertWeightError(["'position_ids'", "I64"]) { _ = try file.tensor("position_ids") }
    }

    func testMissingTensorNamesFileAndKey() throws {
        var writer = SafeTensorsWriter()
        writer.add("present", shape: [1], values: [1])
        let file = try open(writer.serialized())
        assertWeightError(["bad.safetensors", "'absent'", "missing"]) { _ = try file.tensor("absent") }
    }

    func testPickleCheckpointsAreRefusedWithAReasonAndARemedy() throws {
        for ext in ["ckpt", "bin", "pt", "pth", "CKPT"] {
            // Even a file that happens to be valid safetensors: the extension says pickle.
            var writer = SafeTensorsWriter()
            writer.add("w", shape: [1], values: [1])
            let path = try folder.write(writer.serialized(), to: "model.\(ext)")
            assertWeightError(["model.\(ext)", "pickle", "arbitrary code", ".safetensors"]) {
                _ = try SafeTensorsFile(path: path)
            }
        }
    }

    func testMissingFileCannotBeOpened() {
        assertWeightError(["nowhere.safetensors", "cannot open"]) {
            _ = try SafeTensorsFile(path: folder.path + "/nowhere.safetensors")
        }
    }
}
