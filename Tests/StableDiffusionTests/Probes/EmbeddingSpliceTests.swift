import Compute
import StableDiffusion
import XCTest

/// The [EOS] probe's splice puts exactly the intended prompt's rows at each position.
final class EmbeddingSpliceTests: XCTestCase {
    /// A `[1, T, 2]` embedding whose row r holds (tag, r), so every row names its source.
    private func tagged(_ tag: Float, words: Int, positions: Int = 10) -> EncodedPrompt {
        let values = (0..<positions).flatMap { [tag, Float($0)] }
        return EncodedPrompt(text: "\(tag)", embedding: Tensor(shape: [1, positions, 2], values: values),
                             layout: TokenLayout(positions: positions, wordCount: words))
    }

    private func rows(_ t: Tensor) -> [[Float]] {
        (0..<t.shape[1]).map { r in [t.pointer[r * 2], t.pointer[r * 2 + 1]] }
    }

    func testLayoutFindsTheWordsBeforeTheFirstEndToken() {
        let layout = TokenLayout(ids: [49406, 320, 736, 2138, 49407, 49407, 49407], endID: 49407)
        XCTAssertEqual(layout.wordCount, 3)
        XCTAssertEqual(layout.wordRows, 1..<4)
        XCTAssertEqual(layout.endRows, 4..<7)
    }

    func testEosSpliceKeepsAsWordsAndPutsBsEndRowsRightBehindThem() throws {
        let a = tagged(1, words: 3), b = tagged(2, words: 5)
        let spliced = rows(try EmbeddingSplice.splice(a, b, variant: .eos))
        // A: [SOS] and words 1-3; then B's [EOS] rows 6, 7, 8, 9 and its last row repeated (B has fewer).
        XCTAssertEqual(spliced, [[1, 0], [1, 1], [1, 2], [1, 3], [2, 6], [2, 7], [2, 8], [2, 9], [2, 9], [2, 9]])
        // The reverse: B's words 1-5, then A's [EOS] rows from 4 on, the surplus dropped.
        let reverse = rows(try EmbeddingSplice.splice(b, a, variant: .eos))
        XCTAssertEqual(reverse, [[2, 0], [2, 1], [2, 2], [2, 3], [2, 4], [2, 5], [1, 4], [1, 5], [1, 6], [1, 7]])
    }

    func testWordsAndSosVariantsReplaceOnlyTheirPart() throws {
        let a = tagged(1, words: 2), b = tagged(2, words: 2)
        XCTAssertEqual(rows(try EmbeddingSplice.splice(a, b, variant: .words)),
                       [[1, 0], [2, 1], [2, 2]] + (3..<10).map { [1, Float($0)] })
        XCTAssertEqual(rows(try EmbeddingSplice.splice(a, b, variant: .sos)),
                       [[2, 0]] + (1..<10).map { [1, Float($0)] })
    }

    func testSpliceRefusesEmbeddingsOfDifferentShapes() {
        XCTAssertThrowsError(try EmbeddingSplice.splice(tagged(1, words: 2), tagged(2, words: 2, positions: 8), variant: .eos))
    }

    /// On the shipped model's real embeddings: rows are A's or B's bits exactly where they should be.
    func testShippedModelSpliceHasBsEndRowsBehindAsWords() throws {
        let pipeline = ProbeModel.pipeline
        let a = try pipeline.encodePrompt("a red circle")
        let b = try pipeline.encodePrompt("a small blue striped star on the left")
        XCTAssertEqual(a.layout.wordCount, 3)
        XCTAssertEqual(b.layout.wordCount, 8)
        let spliced = try EmbeddingSplice.splice(a, b, variant: .eos)
        let d = a.width, t = a.layout.positions
        func row(_ e: Tensor, _ r: Int) -> [Float] { Array(UnsafeBufferPointer(start: e.pointer + r * d, count: d)) }
        for r in 0...3 { XCTAssertEqual(row(spliced, r), row(a.embedding, r), "row \(r) should be A's") }
        for r in 4..<t {
            let source = min(r + 5, t - 1)   // B's first [EOS] is row 9; its last row fills the end
            XCTAssertEqual(row(spliced, r), row(b.embedding, source), "row \(r) should be B's row \(source)")
        }
        XCTAssertNotEqual(row(spliced, 4), row(a.embedding, 4))
        // Causal attention: the [SOS] row sees only itself, so it is the same for every prompt.
        XCTAssertEqual(row(a.embedding, 0), row(b.embedding, 0))
    }
}
