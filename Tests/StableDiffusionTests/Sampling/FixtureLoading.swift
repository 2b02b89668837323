import Foundation
import XCTest

/// Reads the committed JSON fixtures under Fixtures/sampling (made by
/// scripts/fixtures/make_sampling_fixtures.py), found relative to this source file so the test
/// target needs no resource declarations.
enum SamplingFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/sampling")

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let url = directory.appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(T.self, from: data)
    }
}

/// Asserts |actual - expected| <= tolerance * max(1, |expected|) element-wise and names the
/// first offending index.
func assertClose(_ actual: [Float], _ expected: [Float], relative tolerance: Float,
                 _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) != \(expected.count) \(message())", file: file, line: line)
        return
    }
    for i in 0..<actual.count {
        let error = abs(actual[i] - expected[i])
        if !(error <= tolerance * max(1, abs(expected[i]))) {
            XCTFail("index \(i): \(actual[i]) vs \(expected[i]) (error \(error)) \(message())", file: file, line: line)
            return
        }
    }
}
