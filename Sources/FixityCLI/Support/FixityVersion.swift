/// The version `fixity --version` prints; raised with each release of Fixity itself.
enum FixityVersion {
    static let current = "0.9.0"
}
