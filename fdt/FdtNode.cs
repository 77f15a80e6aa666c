using System.Globalization;
using System.Text;

namespace LuoModel.Fdt;

/// <summary>
/// A logical device tree (names, property values, children in order) for building blobs in tests, the CLI
/// and benchmarks. Not used by the readers, which work on bytes only.
/// </summary>
public sealed class FdtNode(string name)
{
    /// <summary>Node name with unit address ("" for the root).</summary>
    public string Name { get; } = name;
    /// <summary>Properties in order.</summary>
    public List<KeyValuePair<string, byte[]>> Properties { get; } = [];
    /// <summary>Children in order.</summary>
    public List<FdtNode> Children { get; } = [];

    /// <summary>Adds a property and returns this node.</summary>
    public FdtNode Prop(string name, byte[] value) { Properties.Add(new(name, value)); return this; }
    /// <summary>Adds a string property (with NUL).</summary>
    public FdtNode Prop(string name, string value) => Prop(name, [.. Encoding.UTF8.GetBytes(value), 0]);
    /// <summary>Adds and returns a child.</summary>
    public FdtNode Child(string name) { var c = new FdtNode(name); Children.Add(c); return c; }

    /// <summary>
    /// Writes the tree with the sequential writer in the vectors' order: begin_node, properties, children,
    /// end_node, depth first (vectors README "How each libfdt blob is built").
    /// </summary>
    public int WriteTo(FdtWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        int err = w.BeginNode(Name);
        if (err != 0) return err;
        foreach (var (k, v) in Properties)
        {
            err = w.Property(k, v);
            if (err != 0) return err;
        }
        foreach (FdtNode c in Children)
        {
            err = c.WriteTo(w);
            if (err != 0) return err;
        }
        return w.EndNode();
    }

    /// <summary>Builds a finished blob with the sequential writer (growable buffer).</summary>
    public byte[] Build(FdtCreateFlags flags = FdtCreateFlags.None, IEnumerable<(ulong Address, ulong Size)>? reservations = null)
    {
        using var w = new FdtWriter();
        Check(w.CreateGrowable(1024, flags));
        foreach (var (a, s) in reservations ?? []) Check(w.AddReservemapEntry(a, s));
        Check(w.FinishReservemap());
        Check(WriteTo(w));
        Check(w.Finish());
        return w.ToArray();
    }

    private static void Check(int err)
    {
        if (err != 0) throw new InvalidOperationException($"building a tree failed: {FdtErrors.Name(err)}");
    }

    /// <summary>
    /// Parses the vectors' tree.txt format back into a tree (its rsv lines into <paramref name="reservations"/>).
    /// </summary>
    public static FdtNode ParseTreeText(string text, out List<(ulong Address, ulong Size)> reservations)
    {
        ArgumentNullException.ThrowIfNull(text);
        reservations = [];
        var byPath = new Dictionary<string, FdtNode>(StringComparer.Ordinal);
        FdtNode? root = null;
        foreach (string raw in text.Split('\n'))
        {
            if (raw.Length == 0) continue;
            string[] f = raw.Split(' ');
            switch (f[0])
            {
                case "rsv":
                    reservations.Add((ulong.Parse(f[1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                                      ulong.Parse(f[2].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                    break;
                case "node":
                    string path = f[2];
                    if (path == "/") { root = new FdtNode(""); byPath[path] = root; break; }
                    int slash = path.LastIndexOf('/');
                    string parent = slash == 0 ? "/" : path[..slash];
                    byPath[path] = byPath[parent].Child(path[(slash + 1)..]);
                    break;
                case "prop":
                    byPath[f[1]].Prop(f[2], f.Length > 4 ? Convert.FromHexString(f[4]) : []);
                    break;
            }
        }
        return root ?? throw new FormatException("tree text has no root node");
    }
}
