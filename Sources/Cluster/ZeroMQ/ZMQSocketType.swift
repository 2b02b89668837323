import CZeroMQ

/// The socket types sdcluster uses (and the two REQ/REP ones for simple tools and tests).
enum ZMQSocketType: Sendable, CustomStringConvertible {
    case router, dealer, req, rep, pair, pub, sub, push, pull

    var rawValue: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .pair: return ZMQ_PAIR
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        }
    }

    var description: String {
        switch self {
        case .router: return "ROUTER"
        case .dealer: return "DEALER"
        case .req: return "REQ"
        case .rep: return "REP"
        case .pair: return "PAIR"
        case .pub: return "PUB"
        case .sub: return "SUB"
        case .push: return "PUSH"
        case .pull: return "PULL"
        }
    }
}
