-- The AR rules hold for every customer: nothing overdue is negative or exceeds the net
-- balance, utilisation is never negative, and a customer whose net balance is <= 0 is
-- never overdue or in dunning.
select
    customer_number,
    open_amount_eur,
    overdue_amount_eur,
    credit_utilisation_percent,
    payment_status
from {{ ref('customer_financial_status') }}
where
    overdue_amount_eur < 0
    or overdue_amount_eur > greatest(open_amount_eur, 0)
    or open_credit_amount_eur > 0
    or credit_utilisation_percent < 0
    or (open_amount_eur <= 0 and payment_status in ('overdue', 'in_dunning'))
    or (overdue_amount_eur = 0 and payment_status in ('overdue', 'in_dunning'))
    or (overdue_amount_eur > 0 and payment_status = 'current')
