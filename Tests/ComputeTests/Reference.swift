import Compute
import Foundation

/// Naive reference implementations the oneDNN-backed operations are checked against.
enum Reference {
    /// Deterministic pseudo-random values in [-1, 1).
    static func tensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            v[i] = Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        return Tensor(shape: shape, values: v)
    }

    /// x NHWC, w OIHW; padding (top, left, bottom, right).
    static func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, pad: (Int, Int, Int, Int)) -> Tensor {
        let (n, h, wd, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let oh = (h + pad.0 + pad.2 - k) / stride + 1, ow = (wd + pad.1 + pad.3 - k) / stride + 1
        var out = [Float](repeating: 0, count: n * oh * ow * o)
        let xv = x.values, wv = w.values, bv = b?.values
        for bi in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for oc in 0..<o {
            var s = Double(bv?[oc] ?? 0)
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride + ky - pad.0, ix = ox * stride + kx - pad.1
                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                for ic in 0..<c {
                    s += Double(xv[((bi * h + iy) * wd + ix) * c + ic]) * Double(wv[((oc * c + ic) * k + ky) * k + kx])
                }
            } }
            out[((bi * oh + oy) * ow + ox) * o + oc] = Float(s)
        } } } }
        return Tensor(shape: [n, oh, ow, o], values: out)
    }

    static func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        let k = w.shape[1], o = w.shape[0], rows = x.count / k
        let xv = x.values, wv = w.values, bv = b?.values
        var out = [Float](repeating: 0, count: rows * o)
        for r in 0..<rows { for j in 0..<o {
            var s = Double(bv?[j] ?? 0)
            for i in 0..<k { s += Double(xv[r * k + i]) * Double(wv[j * k + i]) }
            out[r * o + j] = Float(s)
        } }
        var shape = x.shape
        shape[shape.count - 1] = o
        return Tensor(shape: shape, values: out)
    }

    static func attention(q: [Float], k: [Float], v: [Float], tq: Int, tk: Int, heads: Int, d: Int, causal: Bool) -> [Float] {
        let c = heads * d
        var out = [Float](repeating: 0, count: tq * c)
        for h in 0..<heads { for i in 0..<tq {
            var s = [Double](repeating: 0, count: tk)
            for j in 0..<tk {
                var dot = 0.0
                for e in 0..<d { dot += Double(q[i * c + h * d + e]) * Double(k[j * c + h * d + e]) }
                s[j] = (causal && j > i) ? -.infinity : dot / Double(d).squareRoot()
            }
            let m = s.max()!
            let e = s.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for x in 0..<d {
                var acc = 0.0
                for j in 0..<tk { acc += e[j] / z * Double(v[j * c + h * d + x]) }
                out[i * c + h * d + x] = Float(acc)
            }
        } }
        return out
    }

    static func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.count == b.count)
        var m: Float = 0
        for i in 0..<a.count { m = max(m, abs(a.pointer[i] - b.pointer[i])) }
        return m
    }
}
