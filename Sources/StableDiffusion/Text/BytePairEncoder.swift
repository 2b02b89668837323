import Foundation

/// Byte-level byte-pair encoding with CLIP's end-of-word marker `</w>`.
///
/// A word's UTF-8 bytes start as one symbol each (their `ByteCharacters`), the last one with
/// `</w>` appended; then, repeatedly, the adjacent pair with the best (lowest) merge rank is
/// joined, the leftmost first when ranks tie, until no adjacent pair has a merge. This is the
/// order of `tokenizers`' `Word::merge_all` and of CLIP's own `bpe()` for merge lists whose
/// merges come after the merges that made their parts (every trained list).
///
/// The work per word is O(n log n) in its bytes (a heap of candidate merges), so a prompt of
/// one 10 000-character "word" is no problem. Results are cached per word.
struct BytePairEncoder: Sendable {
    /// One entry of the merge list: its rank (line order) and the id of the joined token.
    struct Merge: Sendable {
        let rank: Int
        let mergedID: Int
    }

    /// Vocabulary ids of each byte's character, without and with `</w>`.
    private let byteIDs: [Int]
    private let finalByteIDs: [Int]
    /// Merges by the ids of their two parts (`pairKey`).
    private let merges: [UInt64: Merge]
    private let cache = WordCache(capacity: 10_000)

    /// - Parameters:
    ///   - vocabulary: token string -> id.
    ///   - merges: the merge list in rank order, each as its two parts.
    ///   - unknownID: the id used for a byte character missing from the vocabulary.
    /// - Throws: `TokenizerError.mergeNotInVocabulary` when a merge or one of its parts has no id.
    init(vocabulary: [String: Int], merges mergeList: [(String, String)], unknownID: Int) throws {
        byteIDs = ByteCharacters.characters.map { vocabulary[String($0)] ?? unknownID }
        finalByteIDs = ByteCharacters.characters.map { vocabulary[String($0) + Self.endOfWord] ?? unknownID }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, (left, right)) in mergeList.enumerated() {
            guard let leftID = vocabulary[left], let rightID = vocabulary[right],
                  let mergedID = vocabulary[left + right] else {
                throw TokenizerError.mergeNotInVocabulary(line: rank + 2, left: left, right: right)
            }
            // A pair listed twice keeps its later rank, as in `tokenizers` (checked there).
            merges[Self.pairKey(leftID, rightID)] = Merge(rank: rank, mergedID: mergedID)
        }
        self.merges = merges
    }

    /// The marker CLIP's vocabulary appends to the last symbol of every word.
    static let endOfWord = "</w>"

    /// The token ids of one word, given as its UTF-8 bytes (non-empty).
    func encode(word bytes: [UInt8]) -> [Int] {
        if let cached = cache[bytes] { return cached }
        var ids = bytes.map { byteIDs[Int($0)] }
        ids[ids.count - 1] = finalByteIDs[Int(bytes[bytes.count - 1])]
        let result = mergeAll(ids)
        cache[bytes] = result
        return result
    }

    private static func pairKey(_ left: Int, _ right: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: left)) << 32 | UInt64(UInt32(truncatingIfNeeded: right))
    }

    private func merge(_ left: Int, _ right: Int) -> Merge? {
        merges[Self.pairKey(left, right)]
    }

    /// Applies merges best rank first over a linked list of symbols.
    private func mergeAll(_ initial: [Int]) -> [Int] {
        var ids = initial
        var next = Array(1...ids.count)  // ids.count means "no next symbol"
        var previous = Array(-1..<(ids.count - 1))
        var alive = [Bool](repeating: true, count: ids.count)
        var candidates = MergeHeap()
        for position in 0..<(ids.count - 1) {
            if let found = merge(ids[position], ids[position + 1]) {
                candidates.push(.init(rank: found.rank, position: position, mergedID: found.mergedID))
            }
        }
        while let candidate = candidates.pop() {
            let position = candidate.position
            guard alive[position], next[position] < ids.count else { continue }
            let right = next[position]
            // A candidate is stale when either symbol has changed since it was pushed.
            guard merge(ids[position], ids[right])?.mergedID == candidate.mergedID else { continue }
            ids[position] = candidate.mergedID
            alive[right] = false
            next[position] = next[right]
            if next[right] < ids.count { previous[next[right]] = position }
            if previous[position] >= 0, let found = merge(ids[previous[position]], ids[position]) {
                candidates.push(.init(rank: found.rank, position: previous[position], mergedID: found.mergedID))
            }
            if next[position] < ids.count, let found = merge(ids[position], ids[next[position]]) {
                candidates.push(.init(rank: found.rank, position: position, mergedID: found.mergedID))
            }
        }
        return zip(ids, alive).compactMap { $0.1 ? $0.0 : nil }
    }
}

/// A min-heap of candidate merges ordered by rank, then position (leftmost first).
private struct MergeHeap {
    struct Entry {
        let rank: Int
        let position: Int
        let mergedID: Int

        func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var entries: [Entry] = []

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return top }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < entries.count && entries[left].precedes(entries[best]) { best = left }
            if right < entries.count && entries[right].precedes(entries[best]) { best = right }
            if best == parent { return top }
            entries.swapAt(parent, best)
            parent = best
        }
    }
}

/// A bounded, thread-safe word -> ids cache; emptied when full (prompts repeat few words).
private final class WordCache: @unchecked Sendable {
    private let capacity: Int
    private var storage: [[UInt8]: [Int]] = [:]
    private let lock = NSLock()

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(word: [UInt8]) -> [Int]? {
        get { lock.withLock { storage[word] } }
        set {
            lock.withLock {
                if storage.count >= capacity { storage.removeAll(keepingCapacity: true) }
                storage[word] = newValue
            }
        }
    }
}
