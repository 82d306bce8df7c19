/// The one walk over two lists in canonical path order (two manifests, a manifest and a live
/// tree): each path is visited once — only in the left list, only in the right, or in both — in
/// canonical order. Linear time, no dictionaries. `ManifestDiff` (release to release) and the
/// host's drift comparison (manifest to live tree) are both this walk.
public enum CanonicalMerge {
    public enum Step<Left, Right> {
        case onlyLeft(Left)
        case onlyRight(Right)
        case both(Left, Right)
    }

    /// Visits the union of `left` and `right`, both sorted by `EntryPath.precedes` on the path
    /// that `leftPath`/`rightPath` read.
    @inlinable
    public static func walk<L: Collection, R: Collection>(
        _ left: L, _ right: R, leftPath: (L.Element) -> String, rightPath: (R.Element) -> String,
        _ visit: (Step<L.Element, R.Element>) throws -> Void
    ) rethrows {
        var i = left.startIndex
        var j = right.startIndex
        while i != left.endIndex || j != right.endIndex {
            if j == right.endIndex {
                try visit(.onlyLeft(left[i]))
                left.formIndex(after: &i)
            } else if i == left.endIndex {
                try visit(.onlyRight(right[j]))
                right.formIndex(after: &j)
            } else {
                let l = left[i]
                let r = right[j]
                if EntryPath.precedes(leftPath(l), rightPath(r)) {
                    try visit(.onlyLeft(l))
                    left.formIndex(after: &i)
                } else if EntryPath.precedes(rightPath(r), leftPath(l)) {
                    try visit(.onlyRight(r))
                    right.formIndex(after: &j)
                } else {
                    try visit(.both(l, r))
                    left.formIndex(after: &i)
                    right.formIndex(after: &j)
                }
            }
        }
    }
}
