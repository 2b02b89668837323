import XCTest
import ImageIO
@testable import ShapesWorld

final class DatasetTests: XCTestCase {
    private func tempDir() -> String {
        NSTemporaryDirectory() + "shapes-\(UUID().uuidString)"
    }

    func testWritesPNGsAndACaptionLinePerImage() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Dataset.write(count: 12, size: 32, seed: 4, to: dir)
        let lines = try String(contentsOfFile: dir + "/captions.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 12)
        for (i, line) in lines.enumerated() {
            let record = try JSONDecoder().decode(Dataset.Record.self, from: Data(line.utf8))
            let expected = WorldSampler.example(seed: 4, index: i)
            XCTAssertEqual(record.caption, expected.caption)
            XCTAssertEqual(record.attributes, expected.attributes)
            let image = try PNG.read(from: dir + "/" + record.file)
            XCTAssertEqual(image.width, 32)
            XCTAssertEqual(image, Rasterizer().draw(expected.attributes, side: 32))
            XCTAssertEqual(try PNG.textChunks(at: dir + "/" + record.file).first?.1, record.caption)
        }
    }

    func testSameSeedGivesIdenticalFilesAndAnotherSeedDiffers() throws {
        let a = tempDir(), b = tempDir(), c = tempDir()
        defer { for d in [a, b, c] { try? FileManager.default.removeItem(atPath: d) } }
        try Dataset.write(count: 5, size: 24, seed: 9, to: a)
        try Dataset.write(count: 5, size: 24, seed: 9, to: b)
        try Dataset.write(count: 5, size: 24, seed: 10, to: c)
        for f in ["000000.png", "000004.png", "captions.jsonl"] {
            XCTAssertEqual(FileManager.default.contents(atPath: a + "/" + f), FileManager.default.contents(atPath: b + "/" + f), f)
        }
        XCTAssertNotEqual(FileManager.default.contents(atPath: a + "/captions.jsonl"),
                          FileManager.default.contents(atPath: c + "/captions.jsonl"))
    }

    func testAnUnwritableDirectoryIsReported() {
        XCTAssertThrowsError(try Dataset.write(count: 1, size: 16, seed: 0, to: "/proc/no-such-dir/x"))
    }
}
