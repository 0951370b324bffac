-- [4/10] The default hand-over list loses its bare words ("admin", "orang", "manusia"): customers
-- greet a shop with "halo admin" and order "untuk 10 orang". A request for a person is now
-- recognised in context by the engine. Only tenants still on the old default get the new one;
-- a tenant who edited the list keeps it, and the digest names its bare words.
UPDATE tenants
SET escalation_keywords = 'komplain,complain,kecewa,refund,uang kembali,balikin uang,penipuan,penipu,ditipu,lapor polisi,somasi'
WHERE escalation_keywords = 'admin,manusia,orang,komplain,refund,human,agent';
