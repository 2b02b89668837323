/// A FETCH held open (long polling) until a result of its batch finishes or its wait ends.
struct PendingFetch {
    let client: [UInt8]
    let request: FetchResults
    let expires: Double
}
