import Compute

/// The similarity measure of adaptive guidance (Castillo et al., arXiv 2312.12487).
public enum AdaptiveGuidance {
    /// Cosine similarity of two predictions over all their elements, accumulated in double.
    /// Two all-zero predictions count as identical (1); one all-zero prediction as unrelated (0).
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.count == b.count, "cosine similarity of tensors with \(a.count) and \(b.count) elements")
        var dot = 0.0, normA = 0.0, normB = 0.0
        for i in 0..<a.count {
            let x = Double(a.pointer[i]), y = Double(b.pointer[i])
            dot += x * y
            normA += x * x
            normB += y * y
        }
        if normA == 0 || normB == 0 { return normA == normB ? 1 : 0 }
        return dot / (normA.squareRoot() * normB.squareRoot())
    }
}
