-- Referral history for the referral tracker: one row per procedure of each referred patient.
-- Open Dental: Reports > User Query, paste this, Submit Query, then Export (the grid as a file).
-- Read-only: SELECT only, no temporary tables, nothing written.
--
-- Rows: one per (patient, "referred from" attachment, procedure). A referred patient with no
-- procedures yet has one row whose procedure columns are empty (LEFT JOIN).
-- ProcStatus: 1 = treatment planned, 2 = complete, 6 = deleted. 3 (existing current prov),
-- 4 (existing other prov), 5 (referred out) and 7 (condition) are not this practice's care for
-- the case and are left out; deleted rows are kept so the import can show they were ignored.
-- A procedure belongs to the referral it follows: dated on or after RefDate and before the
-- patient's next "referred from" date, so a patient referred twice is two cases.
SELECT
  p.PatNum,
  p.LName,
  p.FName,
  p.Birthdate,                       -- 0001-01-01 = not entered (imported as unknown)
  ra.RefDate,
  r.LName            AS RefLName,
  r.FName            AS RefFName,
  r.Title            AS RefTitle,
  r.BusinessName,
  r.Zip              AS RefZip,
  r.NationalProvID   AS RefNPI,
  pc.ProcCode,
  pl.ProcDate,
  pl.ProcFee,
  pl.ProcStatus
FROM patient p
JOIN refattach ra
  ON ra.PatNum = p.PatNum
 AND ra.RefType = 1                  -- 1 = referred from (0 = referred to, 2 = referral custom)
JOIN referral r
  ON r.ReferralNum = ra.ReferralNum
LEFT JOIN procedurelog pl
  ON pl.PatNum = p.PatNum
 AND pl.ProcStatus IN (1, 2, 6)
 AND pl.ProcDate >= ra.RefDate
 AND pl.ProcDate < COALESCE(
       (SELECT MIN(ra2.RefDate) FROM refattach ra2
         WHERE ra2.PatNum = ra.PatNum AND ra2.RefType = 1 AND ra2.RefDate > ra.RefDate),
       '9999-12-31')
LEFT JOIN procedurecode pc
  ON pc.CodeNum = pl.CodeNum
ORDER BY p.PatNum, ra.RefDate, pl.ProcDate;
