/** A dossier as a province system serves it, in the national portal's naming, with the applicant's personal data. */
export function nationalRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    MaHoSo: '000.00.01.H56-261120-0001',
    MaHoSoKhac: 'HCM-2026-0001',
    MaTinh: '79',
    MaTTHC: '2.000477.000.00.00.H56',
    MaLinhVuc: 'G09-TP',
    DonViXuLy: '000.00.01.H56',
    KenhThucHien: '2',
    LoaiDoiTuong: 1,
    TrangThaiHoSo: '4',
    NgayNopHoSo: '20261120083000',
    NgayTiepNhan: '20261120090000',
    NgayHenTra: '20261204170000',
    NgayKetThucXuLy: null,
    NgayTra: '',
    NgayCapNhat: '20261127080000',
    PhienBan: 7,
    ChuHoSo: 'Nguyễn Văn An',
    SoGiayToChuHoSo: '001099012345',
    DinhDanhCHS: '001099012345',
    SoDienThoai: '0912345678',
    Email: 'an.nguyen@example.vn',
    DiaChi: '12 Lê Lợi, Quận 1, TP. Hồ Chí Minh',
    QuaTrinhXuLy: [
      { NguoiXuLy: 'Cán bộ một cửa', NoiDungXuLy: 'Tiếp nhận', TrangThai: '2', ThoiDiemXuLy: '20261120090000' },
    ],
    ...overrides,
  };
}
