-- The DX office confirms each ledger entry; the effects count confirmed entries
-- only. Entries made before confirmation existed were entered by the DX office
-- and count as confirmed, so no published total changes on upgrade.
ALTER TABLE systems ADD COLUMN verified BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE systems SET verified = TRUE;
