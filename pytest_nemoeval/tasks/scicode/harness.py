# SciCode test harness: source text placed in every SciCode test program that runs in the sandbox, after the
# model's code and before the step's test cases (never imported by the plugin). It defines what the test
# cases use: `process_hdf5_to_tuple` reads the targets from test_data.h5 and the comparison helpers of the
# official package, the same names and semantics as scicode-bench/SciCode src/scicode/parse/parse.py and
# src/scicode/compare/cmp.py (NeMo Skills `scicode_utils.eval_prefix` defines them the same way).
# H5PY_FILE is assigned by the program before this text.
import h5py
import numpy as np
import scipy  # its submodules load on first use: scipy.sparse only for the tests that need it


def _h5_value(node):
    if isinstance(node, h5py.Group):
        return process_hdf5_datagroup(node)
    value = node[()]
    return value.decode("utf-8", errors="strict") if isinstance(value, bytes) else value


def process_hdf5_list(group):
    return [group[key][()] for key in group.keys()]


def process_hdf5_dict(group):
    result = {}
    for key, node in group.items():
        if isinstance(node, h5py.Group):
            result[key] = process_hdf5_sparse_matrix(node["sparse_matrix"])
            continue
        value = node[()]
        if isinstance(value, bytes):
            result[key] = value.decode("utf-8", errors="strict")
            continue
        try:
            result[float(key)] = value  # numeric keys were stored as text
        except ValueError:
            result[key] = value
    return result


def process_hdf5_sparse_matrix(group):
    data, shape = group["data"][()], tuple(group["shape"][()])
    if "row" in group and "col" in group:
        return scipy.sparse.coo_matrix((data, (group["row"][()], group["col"][()])), shape=shape)
    if "blocksize" in group:
        return scipy.sparse.bsr_matrix((data, group["indices"][()], group["indptr"][()]), shape=shape,
                                       blocksize=tuple(group["blocksize"][()]))
    return scipy.sparse.csr_matrix((data, group["indices"][()], group["indptr"][()]), shape=shape)


def process_hdf5_datagroup(group):
    first = next(iter(group.keys()), None)  # the reference decides on the first key only
    if first == "list":
        return process_hdf5_list(group["list"])
    if first == "sparse_matrix":
        return process_hdf5_sparse_matrix(group["sparse_matrix"])
    return process_hdf5_dict(group) if first is not None else None


def process_hdf5_to_tuple(step_id, test_num, h5py_file=None):
    targets = []
    with h5py.File(h5py_file or H5PY_FILE, "r") as handle:
        for test_id in range(1, test_num + 1):
            path = f"{step_id}/test{test_id}"
            if path not in handle or not isinstance(handle[path], h5py.Group):
                raise FileNotFoundError(f"Path {path} not found in the file.")
            variables = [_h5_value(handle[path][key]) for key in handle[path].keys()]
            targets.append(variables[0] if len(variables) == 1 else tuple(variables))
    return targets


def process_symbol_in_dict(mapping):
    import sympy  # slow to import: only for the tests that compare dicts

    converted = {}
    for key, value in mapping.items():
        if isinstance(key, sympy.Symbol):
            converted[str(key)] = value  # the reference keeps a Symbol value as is under a Symbol key
        else:
            converted[key] = str(value) if isinstance(value, sympy.Symbol) else value
    return converted


def are_dicts_close(dict1, dict2, atol=1e-8, rtol=1e-5):
    import sympy

    dict1, dict2 = process_symbol_in_dict(dict1), process_symbol_in_dict(dict2)
    if dict1.keys() != dict2.keys():
        return False
    for key, value1 in dict1.items():
        value2 = dict2[key]
        if isinstance(value1, (sympy.Symbol, str)):
            if value1 != value2:
                return False
            continue
        if isinstance(value1, (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix, scipy.sparse.bsr_matrix,
                               scipy.sparse.coo_matrix)):
            if not np.allclose(value1.toarray(), value2.toarray(), atol=atol, rtol=rtol):
                return False
            continue
        try:
            if not np.allclose(value1, value2, atol=atol, rtol=rtol):
                return False
        except ValueError:
            if not value1 == value2:
                return False
    return True


def are_csc_matrix_close(matrix1, matrix2):
    return np.allclose(matrix1.toarray(), matrix2.toarray())


def cmp_tuple_or_list(var1, var2):
    if len(var1) != len(var2):
        return False
    for value1, value2 in zip(var1, var2):
        if isinstance(value1, dict):
            same = are_dicts_close(value1, value2)
        elif isinstance(value1, (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix)):
            same = are_csc_matrix_close(value1, value2)
        elif isinstance(value1, bool):
            same = value1 == value2
        else:
            try:
                same = np.allclose(value1, value2)
            except ValueError:
                same = value1 == value2
        if not same:
            return False
    return True
