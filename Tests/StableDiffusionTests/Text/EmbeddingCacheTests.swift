import XCTest
import Compute
@testable import StableDiffusion

/// The bounded embedding cache and its content keys.
final class EmbeddingCacheTests: XCTestCase {
    func testTheCacheDropsTheLeastRecentlyUsedEntry() {
        var cache = EmbeddingCache<Tensor>(capacity: 2)
        cache.insert(Tensor(zeros: [1]), id: "a")
        cache.insert(Tensor(zeros: [1]), id: "b")
        XCTAssertNotNil(cache.lookup("a"))
        cache.insert(Tensor(zeros: [1]), id: "c")
        XCTAssertTrue(cache.contains("a"))
        XCTAssertFalse(cache.contains("b"), "b was used least recently")
        XCTAssertTrue(cache.contains("c"))
        XCTAssertEqual(cache.count, 2)
    }

    func testTheCacheNeverHoldsMoreThanItsCapacityAndCountsHitsAndMisses() {
        var cache = EmbeddingCache<Tensor>(capacity: 3)
        for i in 0..<50 { cache.insert(Tensor(zeros: [1]), id: "e\(i)") }
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual((0..<50).filter { cache.contains("e\($0)") }, [47, 48, 49])
        XCTAssertNotNil(cache.lookup("e49"))
        XCTAssertNil(cache.lookup("e0"))
        XCTAssertEqual([cache.hits, cache.misses], [1, 1])
        XCTAssertEqual(EmbeddingCache<Tensor>(capacity: 0).capacity, 1, "a cache holds at least one entry")
    }

    func testTheSameTextOnTheSameModelHasTheSameIdAndAnythingElseAnother() {
        let empty = EmbeddingKey(modelHash: "0123456789abcdef", text: "")
        XCTAssertEqual(empty.id, EmbeddingKey(modelHash: "0123456789abcdef", text: "").id)
        XCTAssertNotEqual(empty.id, EmbeddingKey(modelHash: "fedcba9876543210", text: "").id, "another model, another id")
        XCTAssertNotEqual(empty.id, EmbeddingKey(modelHash: "0123456789abcdef", text: " ").id)
        // The separator keeps (model, text) pairs apart that concatenate alike.
        XCTAssertNotEqual(EmbeddingKey(modelHash: "ab", text: "c").id, EmbeddingKey(modelHash: "a", text: "bc").id)
        XCTAssertEqual(empty.id.count, 32)
        XCTAssertTrue(empty.id.allSatisfy { "0123456789abcdef".contains($0) })
    }

    func testSHA256MatchesTheStandardsVectors() {
        XCTAssertEqual(SHA256.hex(Array("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
