package filter

import "os"

// ParquetRows is the number of rows a Parquet file's footer declares (the
// file's checksum is checked apart; this is for comparing counts).
func ParquetRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	pf, err := openParquet(f, path)
	if err != nil {
		return 0, err
	}
	return pf.NumRows(), nil
}
